import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HeaderEndFinder } from "../../src/protocol/header_end_finder.ts";
import { byteByByte, prng, randomSplit } from "../_helpers/random.ts";

const te = new TextEncoder();

describe("HeaderEndFinder", () => {
  function finds(chunks: Uint8Array[]): boolean {
    const f = new HeaderEndFinder();
    for (const c of chunks) f.scan(c);
    return f.found;
  }

  it("HeaderEndFinder finds CRLF CRLF and LF LF, split anywhere", () => {
    for (const text of ["A: 1\r\n\r\nbody", "A: 1\nB: 2\n\nbody", "\r\nbody"]) {
      const bytes = te.encode(text);
      assert.ok(finds([bytes]), text);
      assert.ok(finds(byteByByte(bytes)), text);
      for (let seed = 1; seed <= 20; seed++) {
        assert.ok(finds(randomSplit(prng(seed), bytes, 3)), text);
      }
    }
  });

  it("HeaderEndFinder finds nothing in a message that is only headers", () => {
    for (const text of ["Subject: x\r\n", "Subject: x", "A: 1\r\nB: \r\r\n"]) {
      const bytes = te.encode(text);
      assert.equal(finds([bytes]), false, text);
      assert.equal(finds(byteByByte(bytes)), false, text);
    }
  });

  it("HeaderEndFinder.scan says where the body starts, once", () => {
    const f = new HeaderEndFinder();
    assert.equal(f.scan(te.encode("A: 1\r\n\r")), -1);
    assert.equal(f.scan(te.encode("\nbody\n\n")), 1);
    assert.equal(f.scan(te.encode("\n\n")), -1);
    assert.equal(f.found, true);
  });
});
