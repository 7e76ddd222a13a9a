import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LINE_TOO_LONG, LineFramer } from "../../src/protocol/line_framer.ts";
import {
  byteByByte,
  concat,
  int,
  prng,
  randomSplit,
} from "../_helpers/random.ts";

const te = new TextEncoder();
const td = new TextDecoder();
type Out = string | typeof LINE_TOO_LONG;

/** Pushes chunks, taking every line after each push, as the session does. */
function frame(max: number, chunks: Uint8Array[]): Out[] {
  const framer = new LineFramer(max);
  const out: Out[] = [];
  for (const chunk of chunks) {
    framer.push(chunk);
    for (let line = framer.next(); line !== undefined; line = framer.next()) {
      out.push(line === LINE_TOO_LONG ? line : td.decode(line));
    }
  }
  return out;
}

/** The reference: split on LF, drop one CR before it, cap by length with the line end. */
function reference(max: number, text: string): Out[] {
  const parts = text.split("\n");
  parts.pop(); // the unterminated rest
  return parts.map((p) => {
    if (p.length + 1 > max) return LINE_TOO_LONG;
    return p.endsWith("\r") ? p.slice(0, -1) : p;
  });
}

describe("LineFramer", () => {
  it("LineFramer splits pipelined CRLF and bare LF lines", () => {
    assert.deepEqual(
      frame(255, [te.encode("STAT\r\nLIST 1\nRETR 2\r\nNO")]),
      ["STAT", "LIST 1", "RETR 2"],
    );
  });

  it("LineFramer returns an empty line for a lone CRLF and keeps inner CRs", () => {
    assert.deepEqual(frame(255, [te.encode("\r\na\rb\r\n\n")]), [
      "",
      "a\rb",
      "",
    ]);
  });

  it("LineFramer gives the same lines byte by byte", () => {
    const input = te.encode("USER alice\r\nPASS a b c\r\n\r\nQUIT\nX\r");
    assert.deepEqual(frame(255, byteByByte(input)), [
      "USER alice",
      "PASS a b c",
      "",
      "QUIT",
    ]);
  });

  it("LineFramer matches a reference on random input in random splits", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = prng(seed);
      const lines: string[] = [];
      const count = 1 + int(rand, 20);
      for (let i = 0; i < count; i++) {
        const len = rand() < 0.1 ? 20 + int(rand, 60) : int(rand, 25);
        const body = "x".repeat(len);
        lines.push(body + (rand() < 0.5 ? "\r\n" : "\n"));
      }
      const text = lines.join("") + "tail";
      const max = 24;
      const bytes = te.encode(text);
      const expected = reference(max, text);
      assert.deepEqual(frame(max, [bytes]), expected, `seed ${seed} whole`);
      assert.deepEqual(
        frame(max, randomSplit(rand, bytes, 30)),
        expected,
        `seed ${seed} split`,
      );
      assert.deepEqual(
        frame(max, byteByByte(bytes)),
        expected,
        `seed ${seed} bytes`,
      );
    }
  });

  it("LineFramer counts the CRLF in the cap", () => {
    const max = 10;
    const fits = "a".repeat(8) + "\r\n";
    const over = "a".repeat(9) + "\r\n";
    assert.deepEqual(frame(max, [te.encode(fits + over + "ok\r\n")]), [
      "a".repeat(8),
      LINE_TOO_LONG,
      "ok",
    ]);
  });

  it("LineFramer reports an over-long line once and keeps memory bounded", () => {
    const max = 255;
    const framer = new LineFramer(max);
    const chunk = te.encode("A".repeat(100));
    let peak = 0;
    for (let i = 0; i < 10_000; i++) { // 1 MB without a line end
      framer.push(chunk);
      assert.equal(framer.next(), undefined);
      peak = Math.max(peak, framer.buffered);
    }
    assert.ok(peak < max + chunk.length, `buffered up to ${peak} bytes`);
    framer.push(te.encode("AAAA\r\nNOOP\r\n"));
    assert.equal(framer.next(), LINE_TOO_LONG);
    const next = framer.next();
    assert.ok(next instanceof Uint8Array);
    assert.equal(td.decode(next), "NOOP");
    assert.equal(framer.next(), undefined);
  });

  it("LineFramer hasLine tells whether next returns a line", () => {
    const framer = new LineFramer(255);
    assert.equal(framer.hasLine(), false);
    framer.push(te.encode("NOOP"));
    assert.equal(framer.hasLine(), false);
    assert.equal(framer.next(), undefined);
    framer.push(te.encode("\r\nST"));
    assert.equal(framer.hasLine(), true);
    assert.equal(td.decode(framer.next() as Uint8Array), "NOOP");
    assert.equal(framer.hasLine(), false);
    assert.equal(framer.buffered, 2);
  });

  it("LineFramer clear drops buffered bytes and an over-long line in progress", () => {
    const framer = new LineFramer(255);
    framer.push(te.encode("STLS\r\nUSER injected\r\nPA"));
    assert.equal(td.decode(framer.next() as Uint8Array), "STLS");
    assert.equal(framer.clear(), "USER injected\r\nPA".length);
    assert.equal(framer.next(), undefined);
    framer.push(te.encode("x".repeat(300)));
    assert.equal(framer.next(), undefined);
    framer.clear();
    framer.push(te.encode("CAPA\r\n"));
    assert.equal(td.decode(framer.next() as Uint8Array), "CAPA");
  });

  it("LineFramer does not corrupt a returned line when the caller keeps a copy", () => {
    const framer = new LineFramer(255);
    const input = te.encode("ONE\r\nTWO\r\n");
    framer.push(input.subarray(0, 7));
    const one = (framer.next() as Uint8Array).slice();
    framer.push(input.subarray(7));
    const two = framer.next() as Uint8Array;
    assert.deepEqual([td.decode(one), td.decode(two)], ["ONE", "TWO"]);
    assert.deepEqual(
      frame(255, [concat([te.encode("A\r"), te.encode("\nB\r\n")])]),
      ["A", "B"],
    );
  });

  it("LineFramer keeps no reference to a read buffer once its lines are taken", () => {
    // A transport may reuse or hold on to its read buffer; the framer copies
    // what it keeps: the lines it returns and an unfinished line.
    const framer = new LineFramer(255);
    const readBuffer = new Uint8Array(8192);
    const first = te.encode("STAT\r\nUS");
    readBuffer.set(first);
    framer.push(readBuffer.subarray(0, first.length));
    const stat = framer.next() as Uint8Array;
    assert.equal(framer.next(), undefined);
    readBuffer.fill(0x58); // the buffer is overwritten by the next read
    assert.equal(td.decode(stat), "STAT");
    assert.equal(stat.buffer.byteLength, 4);
    framer.push(te.encode("ER alice\r\n"));
    assert.equal(td.decode(framer.next() as Uint8Array), "USER alice");
  });
});
