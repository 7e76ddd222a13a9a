import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DataDecoder } from "../../src/lmtp/data_decoder.ts";
import { concat, int, prng, randomSplit } from "../_helpers/random.ts";

const te = new TextEncoder();
const td = new TextDecoder("latin1");

/** Feeds chunks until the decoder is done; returns the message and the rest. */
function decode(chunks: Uint8Array[]): { message: string; rest: string } {
  const d = new DataDecoder();
  const out: Uint8Array[] = [];
  const rest: Uint8Array[] = [];
  for (const chunk of chunks) {
    if (d.done) {
      rest.push(chunk);
      continue;
    }
    const r = d.push(chunk);
    for (const p of r.pieces) out.push(p.slice());
    if (r.done) rest.push(chunk.subarray(r.consumed));
  }
  assert.ok(d.done, "the terminator was not found");
  return { message: td.decode(concat(out)), rest: td.decode(concat(rest)) };
}

/** The RFC 5321 dot-stuffing of a CRLF message, as a sender does it. */
function stuff(message: string): string {
  const body = message.split("\r\n").map((l) => l.startsWith(".") ? "." + l : l)
    .join("\r\n");
  return body + (message === "" || message.endsWith("\r\n") ? "" : "\r\n") +
    ".\r\n";
}

describe("DataDecoder", () => {
  it("DataDecoder removes the stuffing dot and stops at CRLF.CRLF", () => {
    const { message, rest } = decode([
      te.encode("a\r\n..b\r\n...\r\n.\r\nQUIT\r\n"),
    ]);
    assert.equal(message, "a\r\n.b\r\n..\r\n");
    assert.equal(rest, "QUIT\r\n");
  });

  it("DataDecoder takes an empty message", () => {
    assert.deepEqual(decode([te.encode(".\r\nNOOP\r\n")]), {
      message: "",
      rest: "NOOP\r\n",
    });
  });

  it("DataDecoder ignores <LF>.<LF> and <LF>.<CR><LF> (SMTP smuggling)", () => {
    const smuggled = "x\n.\nMAIL FROM:<a@b>\r\nx\n.\r\nRCPT TO:<c@d>\r\n";
    const { message, rest } = decode([te.encode(smuggled + ".\r\n")]);
    assert.equal(message, smuggled);
    assert.equal(rest, "");
  });

  it("DataDecoder keeps a bare CR and a dot followed by CR and more", () => {
    const { message } = decode([te.encode("a\rb\r\n.\r.\r\r\n.\r\n")]);
    // ".\r." : stuffing dot dropped, "\r." kept; then "\r\r\n".
    assert.equal(message, "a\rb\r\n\r.\r\r\n");
  });

  it("DataDecoder gives the same result for any split, byte by byte too", () => {
    const rand = prng(2033);
    const alphabet = ["\r\n", ".", "\r", "\n", "a", "..", "\r\n.", "x y"];
    for (let round = 0; round < 400; round++) {
      let message = "";
      const lines = int(rand, 12);
      for (let l = 0; l < lines; l++) {
        let text = "";
        for (let k = int(rand, 6); k > 0; k--) {
          text += alphabet[int(rand, alphabet.length)].replaceAll("\r\n", "");
        }
        // A line of its own may not be ".": stuffing makes it "..".
        message += text.replaceAll("\r", "") + "\r\n";
      }
      const wire = te.encode(stuff(message) + "NEXT\r\n");
      const whole = decode([wire]);
      assert.equal(whole.message, message);
      assert.equal(whole.rest, "NEXT\r\n");
      assert.deepEqual(decode(randomSplit(rand, wire, 5)), whole);
      assert.deepEqual(
        decode([...wire].map((b) => new Uint8Array([b]))),
        whole,
      );
    }
  });

  it("DataDecoder refuses input after the end", () => {
    const d = new DataDecoder();
    d.push(te.encode(".\r\n"));
    assert.throws(() => d.push(te.encode("x")), /already ended/);
  });
});
