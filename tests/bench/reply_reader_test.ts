import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ByteSource, ReplyReader } from "../../bench/_reply_reader.ts";
import { multiLineReply, toCrlf } from "../../bench/_maildir.ts";

const enc = new TextEncoder();

/** A byte source that hands out `data` in the given chunk sizes. */
function chunked(data: Uint8Array, sizes: () => number): ByteSource {
  let off = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (off >= data.length) return Promise.resolve(null);
      const n = Math.min(p.length, sizes(), data.length - off);
      p.set(data.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
  };
}

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const MESSAGE = toCrlf(enc.encode(
  "Subject: t\n\n.\n..\n...\n. x\n.leading\nplain.dot\n\n.\nlast\n",
));

describe("ReplyReader", () => {
  it("ReplyReader counts un-stuffed octets in any chunking", async () => {
    const reply = multiLineReply(`+OK ${MESSAGE.length} octets`, MESSAGE);
    const tail = enc.encode("+OK bye\r\n");
    const data = new Uint8Array(reply.length + tail.length);
    data.set(reply);
    data.set(tail, reply.length);
    const random = lcg(7);
    const splits: Array<() => number> = [
      () => 1,
      () => 2,
      () => 3,
      () => 1 + Math.floor(random() * 9),
      () => 1 << 20,
    ];
    for (const sizes of splits) {
      const r = new ReplyReader(chunked(data, sizes), 64);
      assert.equal(await r.status(), true);
      assert.equal(r.field(1), MESSAGE.length);
      const { octets, wire } = await r.multiLine();
      assert.equal(octets, MESSAGE.length);
      assert.equal(wire, reply.length - r.lineEnd - 2);
      assert.equal(await r.status(), true);
      assert.equal(r.lineText(), "+OK bye");
      assert.equal(r.drained, true);
    }
  });

  it("ReplyReader counts LIST lines", async () => {
    const data = enc.encode("+OK 2 messages\r\n1 10\r\n2 20\r\n.\r\n");
    const r = new ReplyReader(chunked(data, () => 5), 16);
    assert.equal(await r.status(), true);
    const { lines } = await r.multiLine(true);
    assert.equal(lines, 2);
  });

  it("ReplyReader rejects a line-start dot that is not stuffed", async () => {
    const data = enc.encode("+OK\r\na\r\n.b\r\n.\r\n");
    const r = new ReplyReader(chunked(data, () => 4), 32);
    await r.status();
    await assert.rejects(r.multiLine(), /not dot-stuffed/);
  });

  it("ReplyReader.knownBody checks the length and the terminator", async () => {
    const reply = multiLineReply("+OK", MESSAGE);
    const body = reply.length - 5; // after "+OK\r\n"
    for (const size of [1, 3, 7, 1000]) {
      const r = new ReplyReader(chunked(reply, () => size), 64);
      await r.status();
      await r.knownBody(body);
      assert.equal(r.drained, true);
    }
    const short = new ReplyReader(chunked(reply, () => 1000), 64);
    await short.status();
    await assert.rejects(
      short.knownBody(body - 1),
      /CRLF \. CRLF|after the terminator/,
    );
    const early = new ReplyReader(chunked(reply, () => 1000), 64);
    await early.status();
    await assert.rejects(
      early.knownBody(body + 10),
      /ended 10 bytes early|closed/,
    );
  });

  it("ReplyReader reports -ERR status lines", async () => {
    const r = new ReplyReader(
      chunked(enc.encode("-ERR [IN-USE] busy\r\n"), () => 3),
      32,
    );
    assert.equal(await r.status(), false);
    assert.equal(r.lineText(), "-ERR [IN-USE] busy");
  });
});

describe("multiLineReply", () => {
  it("multiLineReply stuffs line-start dots and appends the terminator", () => {
    const out = new TextDecoder().decode(
      multiLineReply("+OK", enc.encode(".a\r\nb.c\r\n.\r\n")),
    );
    assert.equal(out, "+OK\r\n..a\r\nb.c\r\n..\r\n.\r\n");
  });

  it("toCrlf leaves CRLF alone and fixes bare LF", () => {
    const out = new TextDecoder().decode(toCrlf(enc.encode("a\nb\r\n\nc")));
    assert.equal(out, "a\r\nb\r\n\r\nc");
  });
});
