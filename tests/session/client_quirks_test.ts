import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Fixture, withFixture } from "../_helpers/fixture.ts";
import { byteByByte, prng, randomSplit } from "../_helpers/random.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { DEFAULTS } from "../../src/server/options.ts";

const te = new TextEncoder();
/** One character per octet (TextDecoder's "latin1" is windows-1252). */
const octets = (b: Uint8Array) => String.fromCharCode(...b);

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++].slice());
      else controller.close();
    },
  }, { highWaterMark: 0 });
}

const WITH_NULS = "Subject: n\0l\r\n\r\na\0b\r\n\0\0\r\n.\0\r\nend\0";
const HEADERS_ONLY = "Subject: x\r\n";

function only(fx: Fixture, text: string): void {
  fx.storage.inner.clear("alice");
  fx.storage.inner.deliver("alice", text);
}

/** The exact bytes of a multi-line reply's content and terminator. */
async function wire(
  fx: Fixture,
  command: string,
): Promise<{ status: string; raw: string }> {
  const c = await fx.alice();
  const status = await c.cmd(command);
  const { raw } = await c.body();
  c.close();
  return { status, raw: octets(raw) };
}

describe("Pop3d outlookNoNuls", () => {
  it("Pop3d with outlookNoNuls sends NULs as 0x80 in RETR and TOP, sizes unchanged", async () => {
    await withFixture({ outlookNoNuls: true }, async (fx) => {
      only(fx, WITH_NULS);
      const r = await wire(fx, "RETR 1");
      assert.equal(r.status, `+OK ${WITH_NULS.length} octets`);
      assert.equal(
        r.raw,
        "Subject: n\x80l\r\n\r\na\x80b\r\n\x80\x80\r\n..\x80\r\nend\x80\r\n.\r\n",
      );
      const t = await wire(fx, "TOP 1 1");
      assert.equal(t.raw, "Subject: n\x80l\r\n\r\na\x80b\r\n.\r\n");
      // The message itself is left as it is.
      const stored = fx.storage.inner.get("alice", 1) as Uint8Array;
      assert.equal(stored.indexOf(0x80), -1);
      assert.notEqual(stored.indexOf(0), -1);
    });
  });

  it("Pop3d with outlookNoNuls replaces NULs in a message streamed in many chunks", async () => {
    await withFixture({ outlookNoNuls: true }, async (fx) => {
      only(fx, WITH_NULS);
      const bytes = te.encode(WITH_NULS);
      const c = await fx.alice();
      for (let seed = 0; seed <= 10; seed++) {
        fx.storage.source = () =>
          streamOf(
            seed === 0 ? byteByByte(bytes) : randomSplit(prng(seed), bytes, 4),
          );
        await c.cmd("RETR 1");
        const { raw } = await c.body();
        const text = octets(raw);
        assert.equal(text.includes("\0"), false);
        assert.equal(
          text,
          WITH_NULS.replaceAll("\0", "\x80").replace("\r\n.", "\r\n..") +
            "\r\n.\r\n",
        );
      }
      c.close();
    });
  });

  it("Pop3d without outlookNoNuls sends NULs as they are (the default)", async () => {
    assert.equal(DEFAULTS.outlookNoNuls, false);
    await withFixture({}, async (fx) => {
      only(fx, WITH_NULS);
      const r = await wire(fx, "RETR 1");
      assert.equal(
        r.raw,
        "Subject: n\0l\r\n\r\na\0b\r\n\0\0\r\n..\0\r\nend\0\r\n.\r\n",
      );
      const t = await wire(fx, "TOP 1 0");
      assert.equal(t.raw, "Subject: n\0l\r\n\r\n.\r\n");
    });
  });

  it("Pop3d rejects a non-boolean outlookNoNuls or oeNsEoh naming the option", () => {
    for (const name of ["outlookNoNuls", "oeNsEoh"]) {
      assert.throws(
        () => new Pop3d({ [name]: "yes" }),
        (e: unknown) =>
          e instanceof TypeError && e.message.includes(`"${name}"`),
      );
    }
  });
});

describe("Pop3d oeNsEoh", () => {
  it("Pop3d with oeNsEoh adds the empty line to a headers-only message in RETR and TOP", async () => {
    await withFixture({ oeNsEoh: true }, async (fx) => {
      only(fx, HEADERS_ONLY);
      const r = await wire(fx, "RETR 1");
      // Like Dovecot: the announced size is the stored one.
      assert.equal(r.status, `+OK ${HEADERS_ONLY.length} octets`);
      assert.equal(r.raw, "Subject: x\r\n\r\n.\r\n");
      const t = await wire(fx, "TOP 1 0");
      assert.equal(t.raw, "Subject: x\r\n\r\n.\r\n");
      const c = await fx.alice();
      assert.equal(await c.cmd("LIST 1"), `+OK 1 ${HEADERS_ONLY.length}`);
      c.close();
    });
  });

  it("Pop3d with oeNsEoh ends an unterminated last header line first", async () => {
    await withFixture({ oeNsEoh: true }, async (fx) => {
      only(fx, "Subject: x");
      assert.equal((await wire(fx, "RETR 1")).raw, "Subject: x\r\n\r\n.\r\n");
      assert.equal((await wire(fx, "TOP 1 5")).raw, "Subject: x\r\n\r\n.\r\n");
      // Streamed in single octets, the last one a bare CR.
      only(fx, "A: 1\r\nB: 2\r");
      fx.storage.source = () =>
        streamOf(byteByByte(te.encode("A: 1\r\nB: 2\r")));
      assert.equal((await wire(fx, "RETR 1")).raw, "A: 1\r\nB: 2\r\n\r\n.\r\n");
    });
  });

  it("Pop3d with oeNsEoh leaves a message with a header end as it is", async () => {
    await withFixture({ oeNsEoh: true }, async (fx) => {
      const text = "Subject: x\r\n\r\nbody\r\n";
      only(fx, text);
      assert.equal((await wire(fx, "RETR 1")).raw, text + ".\r\n");
      assert.equal((await wire(fx, "TOP 1 0")).raw, "Subject: x\r\n\r\n.\r\n");
      // Split right inside the empty line.
      fx.storage.source = () => streamOf(byteByByte(te.encode(text)));
      assert.equal((await wire(fx, "RETR 1")).raw, text + ".\r\n");
    });
  });

  it("Pop3d without oeNsEoh sends a headers-only message as it is (the default)", async () => {
    assert.equal(DEFAULTS.oeNsEoh, false);
    await withFixture({}, async (fx) => {
      only(fx, HEADERS_ONLY);
      assert.equal((await wire(fx, "RETR 1")).raw, "Subject: x\r\n.\r\n");
      assert.equal((await wire(fx, "TOP 1 0")).raw, "Subject: x\r\n.\r\n");
    });
  });
});
