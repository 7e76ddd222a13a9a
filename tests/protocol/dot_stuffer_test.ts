import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DotStuffer } from "../../src/protocol/dot_stuffer.ts";
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
