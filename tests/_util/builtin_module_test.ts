import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EOL } from "node:os";
import {
  builtinModule,
  requireBuiltinModule,
} from "../../src/_util/builtin_module.ts";

describe("builtinModule", () => {
  it("builtinModule returns the host's node: module, and undefined for an unknown one", () => {
    const os = builtinModule<{ EOL: string }>("node:os");
    assert.equal(os?.EOL, EOL);
    assert.equal(builtinModule("node:no-such-module"), undefined);
  });

  it("requireBuiltinModule names what needs a missing module", () => {
    assert.throws(
      () => requireBuiltinModule("node:no-such-module", "Frobbing"),
      /Frobbing needs node:no-such-module/,
    );
  });
});
