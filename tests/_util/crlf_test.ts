import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { countBareLf, toCrlf } from "../../src/_util/crlf.ts";
import { fromHex, toHex } from "../../src/_util/hex.ts";
import { checkUid, isValidUid } from "../../src/_util/uid.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("toCrlf", () => {
  it("toCrlf turns bare LF into CRLF and leaves CRLF alone, returning the input when nothing changes", () => {
    assert.equal(
      dec.decode(toCrlf(enc.encode("\na\nb\r\n\n"))),
      "\r\na\r\nb\r\n\r\n",
    );
    const clean = enc.encode("a\r\nb\r\n");
    assert.equal(toCrlf(clean), clean);
  });

  it("toCrlf pairs a CR at the end of one piece with a LF at the start of the next", () => {
    assert.equal(dec.decode(toCrlf(enc.encode("\nx"), 13)), "\nx");
    assert.equal(dec.decode(toCrlf(enc.encode("\nx"), 65)), "\r\nx");
    assert.equal(countBareLf(enc.encode("\n\r\n\n"), 13), 1);
  });
});

describe("hex and uid", () => {
  it("fromHex decodes either case and refuses odd lengths and non-hex digits", () => {
    assert.deepEqual(fromHex("00fFa9"), new Uint8Array([0, 255, 169]));
    assert.equal(toHex(fromHex("00FFA9")!), "00ffa9");
    assert.equal(fromHex("0"), undefined);
    assert.equal(fromHex("0g"), undefined);
    assert.deepEqual(fromHex(""), new Uint8Array(0));
  });

  it("isValidUid accepts 1 to 70 characters from ! to ~ and checkUid throws TypeError otherwise", () => {
    assert.ok(isValidUid("!~"));
    assert.ok(isValidUid("x".repeat(70)));
    for (const bad of ["", "x".repeat(71), "a b", "é", 5]) {
      assert.equal(isValidUid(bad), false, String(bad));
      assert.throws(() => checkUid(bad), TypeError);
    }
  });
});
