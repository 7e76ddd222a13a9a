import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { closeOnce } from "../../src/_util/close_once.ts";

describe("closeOnce", () => {
  it("closeOnce runs the close once however often it is called", () => {
    let calls = 0;
    const close = closeOnce(() => calls++);
    close();
    close();
    close();
    assert.equal(calls, 1);
  });

  it("closeOnce ignores what the close throws (closed already)", () => {
    const close = closeOnce(() => {
      throw new Error("Bad resource ID");
    });
    assert.doesNotThrow(() => close());
  });
});
