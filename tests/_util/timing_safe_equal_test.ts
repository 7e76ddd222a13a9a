import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { timingSafeEqual } from "../../src/_util/timing_safe_equal.ts";

describe("timingSafeEqual", () => {
  it("timingSafeEqual accepts equal strings and bytes", () => {
    assert.equal(timingSafeEqual("", ""), true);
    assert.equal(timingSafeEqual("pencil", "pencil"), true);
    assert.equal(
      timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])),
      true,
    );
    assert.equal(timingSafeEqual("abc", new Uint8Array([97, 98, 99])), true);
  });

  it("timingSafeEqual refuses different contents of the same length", () => {
    assert.equal(timingSafeEqual("pencil", "pencim"), false);
    assert.equal(timingSafeEqual("pencil", "Pencil"), false);
  });

  it("timingSafeEqual refuses prefixes and extensions", () => {
    assert.equal(timingSafeEqual("pencil", "pencil\0"), false);
    assert.equal(timingSafeEqual("pencil\0", "pencil"), false);
    assert.equal(timingSafeEqual("", "\0"), false);
    assert.equal(
      timingSafeEqual(new Uint8Array(0), new Uint8Array(256)),
      false,
    );
  });

  it("timingSafeEqual compares strings as UTF-8", () => {
    assert.equal(timingSafeEqual("é", new Uint8Array([0xc3, 0xa9])), true);
    assert.equal(timingSafeEqual("é", "e"), false);
  });

  it("timingSafeEqual rejects non-byte input with a TypeError", () => {
    assert.throws(
      () => timingSafeEqual(1 as unknown as string, "1"),
      TypeError,
    );
  });
});
