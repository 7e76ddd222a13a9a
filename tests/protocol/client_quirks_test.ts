import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { replaceNuls } from "../../src/protocol/client_quirks.ts";

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
