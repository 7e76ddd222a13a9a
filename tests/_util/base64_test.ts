import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";
import { decodeBase64, encodeBase64 } from "../../src/_util/base64.ts";

describe("base64", () => {
  it("encodeBase64 matches the RFC 4648 section 10 vectors", () => {
    const vectors: [string, string][] = [
      ["", ""],
      ["f", "Zg=="],
      ["fo", "Zm8="],
      ["foo", "Zm9v"],
      ["foob", "Zm9vYg=="],
      ["fooba", "Zm9vYmE="],
      ["foobar", "Zm9vYmFy"],
    ];
    for (const [plain, encoded] of vectors) {
      assert.equal(encodeBase64(plain), encoded);
      assert.deepEqual(decodeBase64(encoded), new TextEncoder().encode(plain));
    }
  });

  it("encodeBase64 and decodeBase64 round-trip random bytes like node's Buffer", () => {
    for (const n of [0, 1, 2, 3, 100, 0x8000 - 1, 0x8000, 0x8000 * 2 + 5]) {
      const data = new Uint8Array(randomBytes(n));
      const text = encodeBase64(data);
      assert.equal(text, Buffer.from(data).toString("base64"));
      assert.deepEqual(decodeBase64(text), data);
    }
  });

  it("decodeBase64 refuses malformed text instead of throwing", () => {
    const bad = [
      "dXNlcg", // missing padding
      "dXNlcg=", // short padding
      "dXN lcg==", // whitespace
      "dXNlcg==\r\n",
      "dXNl\ncg==",
      "====",
      "d===",
      "dX=lcg==", // padding in the middle
      "dXNlcg==dXNl",
      "dXNlcg-_", // URL-safe alphabet
      "Zh==", // stray bits after the last byte
      "Zm9=", // stray bits after the last byte
      "ü",
      "*",
      "=",
    ];
    for (const text of bad) {
      assert.equal(decodeBase64(text), undefined, JSON.stringify(text));
    }
    assert.equal(decodeBase64(42 as unknown as string), undefined);
  });

  it("decodeBase64 decodes empty text to no bytes", () => {
    assert.deepEqual(decodeBase64(""), new Uint8Array(0));
  });
});
