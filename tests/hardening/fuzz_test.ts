import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { LINE_TOO_LONG, LineFramer } from "../../src/protocol/line_framer.ts";
import { parseCommand } from "../../src/protocol/command.ts";
import { Pop3SyntaxError } from "../../src/errors.ts";
import { generateCase, Rng, runCase } from "../_helpers/fuzz_session.ts";

/** What a framer must produce for `input`: split on LF, cap including LF. */
function reference(input: Uint8Array, max: number): (string | symbol)[] {
  const out: (string | symbol)[] = [];
  let start = 0;
  for (;;) {
    const lf = input.indexOf(10, start);
    if (lf === -1) return out;
    if (lf - start + 1 > max) out.push(LINE_TOO_LONG);
    else {
      const end = lf > start && input[lf - 1] === 13 ? lf - 1 : lf;
      out.push(Array.from(input.subarray(start, end)).join(","));
    }
    start = lf + 1;
  }
}

describe("LineFramer properties", () => {
  it("LineFramer gives the same lines for any split of random input", () => {
    for (let seed = 1; seed <= 400; seed++) {
      const rng = new Rng(seed);
      const max = rng.pick([8, 255, 1000]);
      const parts: number[] = [];
      const n = rng.int(3000);
      for (let i = 0; i < n; i++) {
        const r = rng.int(100);
        parts.push(r < 8 ? 10 : r < 14 ? 13 : r < 17 ? 0 : rng.int(256));
      }
      if (rng.chance(0.3)) { for (let i = 0; i < 2 * max; i++) parts.push(65); }
      parts.push(10);
      const input = new Uint8Array(parts);
      const framer = new LineFramer(max);
      const got: (string | symbol)[] = [];
      for (let at = 0; at < input.length;) {
        const size = 1 + rng.int(rng.pick([1, 16, 600]));
        framer.push(input.slice(at, at + size));
        at += size;
        for (;;) {
          const line = framer.next();
          if (line === undefined) break;
          got.push(
            line === LINE_TOO_LONG ? line : Array.from(line).join(","),
          );
        }
        assert.ok(
          framer.buffered <= max + 600,
          `seed ${seed}: ${framer.buffered} octets buffered`,
        );
      }
      assert.deepEqual(got, reference(input, max), `seed ${seed}`);
    }
  });

  it("LineFramer keeps at most the cap plus one chunk while a line has no LF", () => {
    const framer = new LineFramer(16_384);
    const chunk = new Uint8Array(65_536).fill(0x41);
    for (let i = 0; i < 200; i++) {
      framer.push(chunk);
      assert.equal(framer.next(), undefined);
      assert.ok(framer.buffered <= 16_384 + 65_536);
    }
    framer.push(new TextEncoder().encode("\r\nNOOP\r\n"));
    assert.equal(framer.next(), LINE_TOO_LONG);
    assert.deepEqual(framer.next(), new TextEncoder().encode("NOOP"));
  });
});

describe("LineFramer cost", () => {
  it("LineFramer takes linear time for a 64 KiB line sent one byte at a time", () => {
    // Quadratic copying made this take about 18 s (1.1 s for 16 KiB): one
    // client sending small segments could stall every session.
    const framer = new LineFramer(65_536);
    const byte = new Uint8Array([0x41]);
    const t0 = Date.now();
    for (let i = 0; i < 65_534; i++) {
      framer.push(byte);
      assert.equal(framer.next(), undefined);
      framer.hasLine();
    }
    framer.push(new Uint8Array([0x0a]));
    const line = framer.next();
    const took = Date.now() - t0;
    assert.ok(line instanceof Uint8Array && line.length === 65_534);
    assert.ok(took < 2000, `took ${took} ms`);
  });
});

describe("parseCommand properties", () => {
  it("parseCommand either parses random bytes or throws Pop3SyntaxError", () => {
    const rng = new Rng(7);
    for (let i = 0; i < 20_000; i++) {
      const line = rng.bytes(rng.int(40));
      try {
        const cmd = parseCommand(line);
        assert.equal(typeof cmd.verb, "string");
        assert.ok(Array.isArray(cmd.args));
      } catch (error) {
        assert.ok(error instanceof Pop3SyntaxError, String(error));
      }
    }
  });
});

describe("Pop3Session fuzz", () => {
  it("Pop3Session keeps its invariants on 200 seeded hostile sessions", {
    timeout: 120_000,
  }, async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const failures: string[] = [];
      for (let seed = 1; seed <= 200; seed++) {
        const result = await runCase(generateCase(seed));
        if (result.problem) failures.push(`seed ${seed}: ${result.problem}`);
      }
      assert.deepEqual(failures, []);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
