import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SaslPlain } from "../../../src/auth/sasl/sasl_plain.ts";
import type { SaslCallbacks } from "../../../src/auth/sasl/types.ts";
import { decodeBase64 } from "../../../src/_util/base64.ts";
import {
  bytes,
  challengeText,
  exchange,
  randomInput,
} from "../../_helpers/sasl.ts";

const USERS = new Map([["tim", "tanstaaftanstaaf"], ["Kurt", "xipj3plmq"]]);
const lookup: SaslCallbacks = { lookupPassword: (name) => USERS.get(name) };

describe("SaslPlain", () => {
  it("SaslPlain accepts the RFC 4616 example sent as a base64 initial response", async () => {
    // RFC 4616 section 4: "\0tim\0tanstaaftanstaaf".
    const initial = decodeBase64("AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    assert.ok(initial);
    const step = await new SaslPlain(lookup).start(initial);
    assert.deepEqual(step, { type: "success", user: "tim", authcid: "tim" });
  });

  it("SaslPlain sends an empty challenge when there is no initial response", async () => {
    const plain = new SaslPlain(lookup);
    const first = await plain.start();
    assert.equal(challengeText(first), "");
    const last = await plain.step(bytes("\0tim\0tanstaaftanstaaf"));
    assert.equal(last.type, "success");
  });

  it("SaslPlain accepts an authzid equal to the authcid", async () => {
    const step = await new SaslPlain(lookup).start(
      bytes("tim\0tim\0tanstaaftanstaaf"),
    );
    assert.deepEqual(step, { type: "success", user: "tim", authcid: "tim" });
  });

  it("SaslPlain refuses the RFC 4616 Kurt-as-Ursel example without an authorize hook", async () => {
    const step = await new SaslPlain(lookup).start(
      bytes("Ursel\0Kurt\0xipj3plmq"),
    );
    assert.equal(step.type, "failure");
    assert.equal(step.type === "failure" && step.reason, "authorization");
  });

  it("SaslPlain logs in as the authzid when the authorize hook allows it", async () => {
    const calls: string[][] = [];
    const plain = new SaslPlain({
      ...lookup,
      authorize: (authcid, authzid) => {
        calls.push([authcid, authzid]);
        return authcid === "Kurt" && authzid === "Ursel";
      },
    });
    const step = await plain.start(bytes("Ursel\0Kurt\0xipj3plmq"));
    assert.deepEqual(step, { type: "success", user: "Ursel", authcid: "Kurt" });
    assert.deepEqual(calls, [["Kurt", "Ursel"]]);
  });

  it("SaslPlain does not consult authorize when the password is wrong", async () => {
    let called = false;
    const plain = new SaslPlain({
      ...lookup,
      authorize: () => (called = true),
    });
    const step = await plain.start(bytes("Ursel\0Kurt\0wrong"));
    assert.equal(step.type === "failure" && step.reason, "credentials");
    assert.equal(called, false);
  });

  it("SaslPlain fails wrong passwords and unknown users with the same message", async () => {
    const wrong = await new SaslPlain(lookup).start(bytes("\0tim\0tanstaaf"));
    const unknown = await new SaslPlain(lookup).start(
      bytes("\0bob\0tanstaaftanstaaf"),
    );
    const prefix = await new SaslPlain(lookup).start(
      bytes("\0tim\0tanstaaftanstaaf2"),
    );
    assert.deepEqual(wrong, unknown);
    assert.deepEqual(wrong, prefix);
    assert.deepEqual(wrong, {
      type: "failure",
      reason: "credentials",
      message: "Authentication failed",
    });
  });

  it("SaslPlain uses authenticate instead of lookupPassword when both exist", async () => {
    const seen: string[][] = [];
    const plain = new SaslPlain({
      lookupPassword: () => {
        throw new Error("lookupPassword must not be called");
      },
      authenticate: async (name, password) => {
        seen.push([name, password]);
        await Promise.resolve();
        return password === "hashed-ok";
      },
    });
    const step = await plain.start(bytes("\0alice\0hashed-ok"));
    assert.deepEqual(step, {
      type: "success",
      user: "alice",
      authcid: "alice",
    });
    assert.deepEqual(seen, [["alice", "hashed-ok"]]);
  });

  it("SaslPlain treats a non-true authenticate result as failure", async () => {
    const plain = new SaslPlain({
      authenticate: () => "yes" as unknown as boolean,
    });
    const step = await plain.start(bytes("\0alice\0pw"));
    assert.equal(step.type, "failure");
  });

  it("SaslPlain handles UTF-8 names and passwords", async () => {
    const plain = new SaslPlain({
      lookupPassword: (n) => (n === "jürgen" ? "pässwörd✓" : undefined),
    });
    const step = await plain.start(bytes("\0jürgen\0pässwörd✓"));
    assert.equal(step.type === "success" && step.user, "jürgen");
  });

  it("SaslPlain answers malformed messages with a failure, never a throw", async () => {
    const cases = [
      new Uint8Array(0), // "=" empty initial response
      bytes("tim"),
      bytes("\0tim"),
      bytes("\0tim\0tanstaaftanstaaf\0"),
      bytes("\0\0tanstaaftanstaaf"),
      bytes("\0tim\0"),
      new Uint8Array([0, 0x74, 0, 0xff, 0xfe]), // invalid UTF-8
    ];
    for (const message of cases) {
      const step = await new SaslPlain(lookup).start(message);
      assert.equal(
        step.type === "failure" && step.reason,
        "malformed",
        String(message),
      );
    }
  });

  it("SaslPlain refuses calls out of turn", async () => {
    const plain = new SaslPlain(lookup);
    assert.equal(
      (await plain.step(bytes("\0tim\0tanstaaftanstaaf"))).type,
      "failure",
    );
    const done = new SaslPlain(lookup);
    await done.start(bytes("\0tim\0tanstaaftanstaaf"));
    assert.equal(
      (await done.start(bytes("\0tim\0tanstaaftanstaaf"))).type,
      "failure",
    );
    assert.equal(
      (await done.step(bytes("\0tim\0tanstaaftanstaaf"))).type,
      "failure",
    );
  });

  it("SaslPlain rejects with the callback's error when a callback throws", async () => {
    const boom = new Error("store down");
    const plain = new SaslPlain({
      lookupPassword: () => Promise.reject(boom),
    });
    await assert.rejects(plain.start(bytes("\0tim\0pw")), boom);
  });

  it("SaslPlain needs authenticate or lookupPassword", () => {
    assert.throws(() => new SaslPlain({}), TypeError);
  });

  it("SaslPlain survives random bytes", async () => {
    for (let i = 0; i < 300; i++) {
      const steps = await exchange(new SaslPlain(lookup), undefined, [
        randomInput(40),
      ]);
      assert.equal(steps.at(-1)!.type, "failure");
    }
  });

  it("SaslPlain runs a whole exchange through the helper", async () => {
    const steps = await exchange(new SaslPlain(lookup), undefined, [
      bytes("\0Kurt\0xipj3plmq"),
    ]);
    assert.deepEqual(steps.map((s) => s.type), ["challenge", "success"]);
  });
});
