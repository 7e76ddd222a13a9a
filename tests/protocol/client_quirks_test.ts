import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  HeaderEndFinder,
  replaceNuls,
} from "../../src/protocol/client_quirks.ts";
import { byteByByte, prng, randomSplit } from "../_helpers/random.ts";

const te = new TextEncoder();

describe("replaceNuls", () => {
  it("replaceNuls sends each NUL as 0x80 and keeps the length", () => {
    const input = Uint8Array.of(0, 0x61, 0, 0, 0x62, 0);
    const out = replaceNuls(input);
    assert.deepEqual([...out], [0x80, 0x61, 0x80, 0x80, 0x62, 0x80]);
    // The caller's bytes are not changed in place.
    assert.deepEqual([...input], [0, 0x61, 0, 0, 0x62, 0]);
  });

  it("replaceNuls returns a chunk without NULs as it is", () => {
    const input = te.encode("no nuls\r\n");
    assert.equal(replaceNuls(input), input);
  });
});

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
});
