import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DotStuffer } from "../../src/protocol/dot_stuffer.ts";
import {
  BLOCK_INPUT,
  releaseBlock,
  type StufferBlock,
  stufferBlock,
  wasmStuffer,
} from "../../src/protocol/_wasm_stuffer.ts";
import {
  byteByByte,
  concat,
  prng,
  randomMessage,
  randomSplit,
} from "../_helpers/random.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const CR = 13, LF = 10, DOT = 0x2e;

function encodeAll(chunks: Uint8Array[]): { out: string; octets: number } {
  const s = new DotStuffer();
  const parts: Uint8Array[] = chunks.map((c) => s.encode(c).slice());
  parts.push(s.end());
  return { out: td.decode(concat(parts)), octets: s.octets };
}

/**
 * `length` octets of "a" with line ends and dots: a draw below `lf` is a
 * LF (half of them after a CR), below `cr` a bare CR, below `dot` a dot.
 */
function randomText(
  rand: () => number,
  length: number,
  [lf, cr, dot]: [number, number, number],
): Uint8Array {
  const text = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const r = rand();
    text[i] = r < lf ? LF : r < cr ? CR : r < dot ? DOT : 0x61;
    if (text[i] === LF && rand() < 0.5 && i > 0) text[i - 1] = CR;
  }
  return text;
}

/** The obvious byte-by-byte encoder, as a reference. */
function reference(input: Uint8Array): { out: string; octets: number } {
  const out: number[] = [];
  let octets = 0;
  let atStart = true;
  for (let i = 0; i < input.length; i++) {
    const b = input[i];
    if (atStart && b === DOT) out.push(DOT);
    atStart = false;
    if (b === LF && (i === 0 || input[i - 1] !== CR)) {
      out.push(CR);
      octets++;
    }
    out.push(b);
    octets++;
    if (b === LF) atStart = true;
  }
  const last = input[input.length - 1];
  const end = atStart ? ".\r\n" : last === CR ? "\n.\r\n" : "\r\n.\r\n";
  return { out: td.decode(Uint8Array.from(out)) + end, octets };
}

function stuff(text: string): string {
  return encodeAll([te.encode(text)]).out;
}

describe("DotStuffer", () => {
  it("DotStuffer stuffs lines that start with a dot", () => {
    assert.equal(
      stuff("A\r\n.\r\n..x\r\n.end\r\nmid.dot\r\n"),
      "A\r\n..\r\n...x\r\n..end\r\nmid.dot\r\n.\r\n",
    );
  });

  it("DotStuffer stuffs a dot on the very first line", () => {
    assert.equal(stuff(".first\r\n"), "..first\r\n.\r\n");
    assert.equal(stuff("."), "..\r\n.\r\n");
  });

  it("DotStuffer turns bare LF into CRLF and leaves CRLF alone", () => {
    assert.equal(stuff("a\nb\r\n\n.c\n"), "a\r\nb\r\n\r\n..c\r\n.\r\n");
    assert.equal(stuff("\n"), "\r\n.\r\n");
  });

  it("DotStuffer ends with the terminator in every case", () => {
    assert.equal(stuff(""), ".\r\n");
    assert.equal(stuff("abc\r\n"), "abc\r\n.\r\n");
    assert.equal(stuff("abc"), "abc\r\n.\r\n");
    assert.equal(stuff("abc\n"), "abc\r\n.\r\n");
    assert.equal(stuff("abc\r"), "abc\r\n.\r\n");
  });

  it("DotStuffer handles a dot and a CRLF split across chunks", () => {
    const chunks = ["Subject: x\r", "\n", ".", "hidden\r", "\n.", "\r\n"]
      .map((s) => te.encode(s));
    assert.deepEqual(encodeAll(chunks), {
      out: "Subject: x\r\n..hidden\r\n..\r\n.\r\n",
      octets: 24,
    });
  });

  it("DotStuffer does not add a CR when CR and LF arrive in separate chunks", () => {
    const { out } = encodeAll([te.encode("a\r"), te.encode("\nb")]);
    assert.equal(out, "a\r\nb\r\n.\r\n");
  });

  it("DotStuffer passes an unchanged chunk through without a copy", () => {
    const s = new DotStuffer();
    const chunk = te.encode("plain\r\ntext\r\n");
    assert.equal(s.encode(chunk), chunk);
  });

  it("DotStuffer counts octets as the message with CRLF line ends", () => {
    const { octets } = encodeAll([te.encode(".a\nb\r\n")]);
    assert.equal(octets, ".a\r\nb\r\n".length);
  });

  it("DotStuffer matches a reference encoder on random input in random splits", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const input = randomMessage(rand, Math.floor(rand() * 200));
      const expected = reference(input);
      assert.deepEqual(encodeAll([input]), expected, `seed ${seed} whole`);
      assert.deepEqual(
        encodeAll(randomSplit(rand, input, 7)),
        expected,
        `seed ${seed} split`,
      );
      assert.deepEqual(
        encodeAll(byteByByte(input)),
        expected,
        `seed ${seed} bytes`,
      );
    }
  });

  it("DotStuffer matches the reference on long chunks at every byte alignment", () => {
    // Chunks of 64 octets and more are scanned four octets at a time; the
    // slices start at offsets 0-3 of their buffer so that the aligned words
    // begin at every position, and the text has long lines with the line
    // ends (bare or CRLF) and dots falling at every position within a word.
    for (let seed = 1; seed <= 200; seed++) {
      const rand = prng(5000 + seed);
      const length = 64 + Math.floor(rand() * 3000);
      const text = randomText(rand, length, [0.02, 0.04, 0.07]);
      const expected = reference(text);
      for (let offset = 0; offset < 4; offset++) {
        const buffer = new Uint8Array(length + offset);
        buffer.set(text, offset);
        const input = buffer.subarray(offset);
        assert.deepEqual(
          encodeAll([input]),
          expected,
          `seed ${seed}+${offset}`,
        );
        assert.deepEqual(
          encodeAll(randomSplit(rand, input, 300)),
          expected,
          `seed ${seed}+${offset} split`,
        );
      }
    }
  });

  it("DotStuffer matches the reference on long messages in chunks of every size, across the WebAssembly slices", () => {
    // Chunks of 1 KiB and more go through WebAssembly, 256 KiB at a time;
    // shorter ones through JavaScript. Random splits mix both, and a chunk
    // may span several slices, so the state crosses paths and slices.
    for (let seed = 1; seed <= 12; seed++) {
      const rand = prng(9000 + seed);
      const length = 1 + Math.floor(rand() * 700_000);
      const text = randomText(rand, length, [0.015, 0.02, 0.03]);
      const expected = reference(text);
      assert.deepEqual(encodeAll([text]), expected, `seed ${seed} whole`);
      for (const max of [1500, 70_000, 300_000, 600_000]) {
        assert.deepEqual(
          encodeAll(randomSplit(rand, text, max)),
          expected,
          `seed ${seed} split ${max}`,
        );
      }
    }
  });

  it("DotStuffer.encodeBlock matches the reference, chunk after chunk read into a block, however dense the lines", () => {
    // Reads of every size up to the block's input, into the block as a
    // file read would; the sparse text fits the block's output, the dense
    // text (a line end or a dot in every other octet) does not and goes
    // another way; both must come out the same.
    const block = stufferBlock()!;
    assert.ok(block !== undefined, "WebAssembly runs here");
    const input = block.input;
    for (let seed = 1; seed <= 8; seed++) {
      const rand = prng(7000 + seed);
      const dense = seed % 2 === 0;
      const length = 200_000 + Math.floor(rand() * 1_500_000);
      const text = dense
        // Bare LFs and dots only: about 1.6 times as long on the wire.
        ? Uint8Array.from({ length }, () => rand() < 0.5 ? LF : DOT)
        : randomText(rand, length, [0.015, 0.02, 0.03]);
      const s = new DotStuffer();
      const parts: Uint8Array[] = [];
      let elsewhere = 0; // results not in the block's memory
      for (let at = 0; at < text.length;) {
        const n = Math.min(
          text.length - at,
          dense || rand() < 0.5
            ? BLOCK_INPUT
            : 1 + Math.floor(rand() * BLOCK_INPUT),
        );
        input.set(text.subarray(at, at + n));
        at += n;
        const out = s.encodeBlock(block, n);
        if (out.buffer !== input.buffer) elsewhere++;
        else assert.ok(out.byteOffset >= input.length, "not over the input");
        parts.push(out.slice());
        // The next read may land in the input while this is written.
        input.fill(0x2e, 0, n);
      }
      parts.push(s.end());
      assert.deepEqual(
        { out: td.decode(concat(parts)), octets: s.octets },
        reference(text),
        `seed ${seed} ${dense ? "dense" : "sparse"}`,
      );
      if (dense) assert.ok(elsewhere > 0, `seed ${seed}: none outgrew`);
      else assert.equal(elsewhere, 0, `seed ${seed}`);
    }
    releaseBlock(block);
  });

  it("DotStuffer.encodeBlock of a chunk of line ends only, twice its size on the wire", () => {
    const block = stufferBlock()!;
    const text = new Uint8Array(BLOCK_INPUT).fill(LF);
    block.input.set(text);
    const s = new DotStuffer();
    const out = s.encodeBlock(block, text.length);
    assert.equal(out.length, 2 * BLOCK_INPUT);
    assert.ok(out.buffer !== block.input.buffer, "not in the block's memory");
    assert.equal(s.octets, 2 * BLOCK_INPUT);
    assert.deepEqual(td.decode(concat([out, s.end()])), reference(text).out);
    releaseBlock(block);
  });

  it("stufferBlock gives released blocks out again, and keeps at most two", () => {
    const blocks: StufferBlock[] = [];
    for (let i = 0; i < 4; i++) blocks.push(stufferBlock()!);
    assert.equal(new Set(blocks).size, 4);
    for (const block of blocks) releaseBlock(block);
    const again = [stufferBlock()!, stufferBlock()!, stufferBlock()!];
    assert.equal(again.filter((b) => blocks.includes(b)).length, 2);
    for (const block of again) releaseBlock(block);
  });

  it("DotStuffer encodes into the caller's buffer when the result fits, the same buffer chunk after chunk", () => {
    // A streamed RETR passes one buffer for every chunk (it writes each
    // result out first): no allocation per chunk. Chunks of more than one
    // WebAssembly slice (256 KiB) are laid out slice after slice.
    for (let seed = 1; seed <= 6; seed++) {
      const rand = prng(7000 + seed);
      const text = randomText(rand, 1_400_000 + seed, [0.015, 0.02, 0.03]);
      const into = new Uint8Array(900 * 1024);
      const s = new DotStuffer();
      const parts: Uint8Array[] = [];
      let inside = 0;
      for (const chunk of randomSplit(rand, text, 700 * 1024)) {
        const out = s.encode(chunk, into);
        if (out.buffer === into.buffer) inside++;
        else if (chunk.length >= 1024) assert.equal(out, chunk, "unchanged");
        parts.push(out.slice()); // written out before the next call
      }
      parts.push(s.end());
      assert.ok(inside > 0, `seed ${seed}: no result in the buffer`);
      assert.deepEqual(
        { out: td.decode(concat(parts)), octets: s.octets },
        reference(text),
        `seed ${seed}`,
      );
    }
    // A CRLF text without dots comes back as it is; one changed slice among
    // unchanged ones puts them all in the buffer.
    const plain = te.encode("abc\r\n".repeat(150_000));
    const mixed = te.encode("abc\r\n".repeat(100_000) + "x\n.y\n");
    const buffer = new Uint8Array(1024 * 1024);
    assert.equal(new DotStuffer().encode(plain, buffer), plain);
    const s1 = new DotStuffer();
    const got = s1.encode(mixed, buffer);
    assert.equal(got.buffer, buffer.buffer);
    assert.deepEqual(
      { out: td.decode(concat([got, s1.end()])), octets: s1.octets },
      reference(mixed),
    );
    // A result larger than the buffer is a fresh copy, and still right.
    const text = randomText(prng(7100), 200_000, [0.2, 0.3, 0.5]);
    const small = new Uint8Array(200_001);
    const s = new DotStuffer();
    const out = s.encode(text, small);
    assert.notEqual(out.buffer, small.buffer);
    assert.deepEqual(
      { out: td.decode(concat([out, s.end()])), octets: s.octets },
      reference(text),
    );
  });

  it("DotStuffer has its WebAssembly encoder on this runtime", () => {
    const encode = wasmStuffer();
    assert.ok(encode, "WebAssembly with SIMD did not load");
    const { out, crs } = encode(te.encode(".a\n.b\r\nc\n"), true, false);
    assert.equal(td.decode(out), "..a\r\n..b\r\nc\r\n");
    assert.equal(crs, 2);
  });

  it("DotStuffer doubles a chunk of the WebAssembly encoder's full size", () => {
    // "\n." everywhere: every octet gets one before it, the most the
    // module's output area takes; and the same one octet along, so that
    // every line end falls on each place of a 16-octet block.
    const full = te.encode("\n.".repeat(128 * 1024));
    for (const input of [full, full.subarray(1), full.subarray(0, 65_551)]) {
      const s = new DotStuffer();
      const out = s.encode(input);
      assert.equal(out.length, 2 * input.length);
      assert.deepEqual(
        { out: td.decode(concat([out, s.end()])), octets: s.octets },
        reference(input),
      );
    }
  });

  it("DotStuffer finds a line end in the last octets after the last whole word", () => {
    for (let length = 64; length < 72; length++) {
      for (let at = length - 4; at < length; at++) {
        const input = new Uint8Array(length).fill(0x61);
        input[at] = LF;
        if (at + 1 < length) input[at + 1] = DOT;
        assert.deepEqual(
          encodeAll([input.subarray(1)]),
          reference(input.subarray(1)),
          `${length}/${at}`,
        );
        assert.deepEqual(
          encodeAll([input]),
          reference(input),
          `${length}/${at}`,
        );
      }
    }
  });

  it("DotStuffer passes a long CRLF message without dots through without a copy", () => {
    const line = te.encode("x".repeat(76) + "\r\n");
    const chunk = new Uint8Array(line.length * 100);
    for (let i = 0; i < 100; i++) chunk.set(line, i * line.length);
    const s = new DotStuffer();
    assert.equal(s.encode(chunk), chunk);
    const unaligned = chunk.subarray(3);
    assert.equal(s.encode(unaligned), unaligned);
    assert.equal(s.octets, chunk.length + unaligned.length);
  });

  it("DotStuffer output unstuffs back to the CRLF message", () => {
    for (let seed = 1; seed <= 100; seed++) {
      const rand = prng(1000 + seed);
      const input = randomMessage(rand, 1 + Math.floor(rand() * 300));
      const { out } = encodeAll(randomSplit(rand, input, 16));
      // The terminator appears exactly once, at the end.
      const lines = out.split("\r\n");
      assert.equal(lines.pop(), "");
      assert.equal(lines.pop(), ".");
      assert.ok(!lines.includes("."), `seed ${seed}: early terminator`);
      const body = lines.map((l) => l.startsWith(".") ? l.slice(1) : l);
      let crlf = td.decode(input).replace(/\r?\n/g, "\r\n");
      if (!crlf.endsWith("\r\n")) {
        crlf = crlf.endsWith("\r") ? crlf + "\n" : crlf + "\r\n";
      }
      assert.equal(
        body.join("\r\n") + "\r\n",
        crlf === "\r\n" && input.length === 0 ? "" : crlf,
      );
    }
  });
});
