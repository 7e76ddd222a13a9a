import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TopFilter } from "../../src/protocol/top_filter.ts";
import {
  byteByByte,
  concat,
  int,
  prng,
  randomSplit,
} from "../_helpers/random.ts";

const te = new TextEncoder();
const td = new TextDecoder();

function top(chunks: Uint8Array[], k: number): { out: string; done: boolean } {
  const f = new TopFilter(k);
  const parts: Uint8Array[] = [];
  for (const c of chunks) parts.push(f.filter(c).slice());
  return { out: td.decode(concat(parts)), done: f.done };
}

/** Reference: headers through the first blank line, then k lines. */
function reference(text: string, k: number): string {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const out: string[] = [];
  let inHeaders = true;
  let remaining = k;
  for (const line of lines) {
    if (!inHeaders && remaining === 0) break;
    out.push(line);
    if (inHeaders) {
      if (line === "\n" || line === "\r\n") inHeaders = false;
    } else if (line.endsWith("\n")) remaining--;
  }
  return out.join("");
}

const MESSAGE = "From: a\r\nSubject: b\r\n\r\nL1\r\nL2\r\nL3\r\n";

describe("TopFilter", () => {
  it("TopFilter sends headers, the blank line and k body lines", () => {
    assert.deepEqual(top([te.encode(MESSAGE)], 2), {
      out: "From: a\r\nSubject: b\r\n\r\nL1\r\nL2\r\n",
      done: true,
    });
  });

  it("TopFilter with k=0 sends only headers and the blank line", () => {
    assert.deepEqual(top([te.encode(MESSAGE)], 0), {
      out: "From: a\r\nSubject: b\r\n\r\n",
      done: true,
    });
  });

  it("TopFilter with k beyond the body sends the whole message", () => {
    const r = top([te.encode(MESSAGE)], 100);
    assert.equal(r.out, MESSAGE);
    assert.equal(r.done, false);
  });

  it("TopFilter sends a message without a blank line whole", () => {
    const text = "From: a\r\nSubject: no body\r\n";
    assert.equal(top([te.encode(text)], 0).out, text);
  });

  it("TopFilter handles bare LF line ends", () => {
    assert.equal(
      top([te.encode("A: 1\nB: 2\n\nx\ny\n")], 1).out,
      "A: 1\nB: 2\n\nx\n",
    );
  });

  it("TopFilter does not take a header line starting with CR for the blank line", () => {
    const text = "A: 1\r\n\rX: 2\r\n\r\nbody\r\n";
    assert.equal(
      top(byteByByte(te.encode(text)), 0).out,
      "A: 1\r\n\rX: 2\r\n\r\n",
    );
  });

  it("TopFilter returns nothing after it is done", () => {
    const f = new TopFilter(0);
    f.filter(te.encode("A: 1\r\n\r\n"));
    assert.equal(f.done, true);
    assert.equal(f.filter(te.encode("more\r\n")).length, 0);
  });

  it("TopFilter matches a reference across random splits", () => {
    const pieces = ["H: v", "\r\n", "\n", "x", "\r", "", ".", "Long header"];
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      let text = "";
      const n = int(rand, 30);
      for (let i = 0; i < n; i++) text += pieces[int(rand, pieces.length)];
      const k = int(rand, 5);
      const bytes = te.encode(text);
      const expected = reference(text, k);
      assert.equal(top([bytes], k).out, expected, `seed ${seed} whole`);
      assert.equal(
        top(randomSplit(rand, bytes, 6), k).out,
        expected,
        `seed ${seed} split`,
      );
      assert.equal(
        top(byteByByte(bytes), k).out,
        expected,
        `seed ${seed} bytes`,
      );
    }
  });
});
