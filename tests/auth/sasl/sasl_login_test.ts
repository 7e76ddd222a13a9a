import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SaslLogin } from "../../../src/auth/sasl/sasl_login.ts";
import type { SaslCallbacks } from "../../../src/auth/sasl/types.ts";
import {
  bytes,
  challengeText,
  exchange,
  randomInput,
  reason,
} from "../../_helpers/sasl.ts";

const lookup: SaslCallbacks = {
  lookupPassword: (name) => (name === "tim" ? "tanstaaf" : undefined),
};

describe("SaslLogin", () => {
  it("SaslLogin asks Username: then Password: and succeeds", async () => {
    const login = new SaslLogin(lookup);
    assert.equal(challengeText(await login.start()), "Username:");
    assert.equal(challengeText(await login.step(bytes("tim"))), "Password:");
    assert.deepEqual(await login.step(bytes("tanstaaf")), {
      type: "success",
      user: "tim",
      authcid: "tim",
    });
  });

  it("SaslLogin takes the user name from an initial response", async () => {
    const login = new SaslLogin(lookup);
    assert.equal(challengeText(await login.start(bytes("tim"))), "Password:");
    assert.equal((await login.step(bytes("tanstaaf"))).type, "success");
  });

  it("SaslLogin fails a wrong password and an unknown user alike", async () => {
    const wrong = await exchange(new SaslLogin(lookup), undefined, [
      bytes("tim"),
      bytes("tanstaaf2"),
    ]);
    const unknown = await exchange(new SaslLogin(lookup), undefined, [
      bytes("bob"),
      bytes("tanstaaf"),
    ]);
    assert.deepEqual(wrong.at(-1), unknown.at(-1));
    assert.equal(reason(wrong.at(-1)), "credentials");
  });

  it("SaslLogin uses authenticate when present", async () => {
    const login = new SaslLogin({
      authenticate: (u, p) => u === "a" && p === "b",
    });
    const steps = await exchange(login, undefined, [bytes("a"), bytes("b")]);
    assert.equal(steps.at(-1)!.type, "success");
  });

  it("SaslLogin refuses an empty or invalid user name", async () => {
    for (
      const name of [new Uint8Array(0), new Uint8Array([0xc3]), bytes("a\0b")]
    ) {
      const steps = await exchange(new SaslLogin(lookup), undefined, [name]);
      const last = steps.at(-1)!;
      assert.equal(last.type === "failure" && last.reason, "malformed");
      const initial = await new SaslLogin(lookup).start(name);
      assert.equal(initial.type === "failure" && initial.reason, "malformed");
    }
  });

  it("SaslLogin refuses calls after the exchange ended", async () => {
    const login = new SaslLogin(lookup);
    await exchange(login, undefined, [bytes("tim"), bytes("tanstaaf")]);
    assert.equal((await login.step(bytes("tanstaaf"))).type, "failure");
    assert.equal((await login.start()).type, "failure");
  });

  it("SaslLogin survives random bytes", async () => {
    for (let i = 0; i < 300; i++) {
      const steps = await exchange(new SaslLogin(lookup), undefined, [
        randomInput(20),
        randomInput(20),
      ]);
      assert.equal(steps.at(-1)!.type, "failure");
    }
  });
});
