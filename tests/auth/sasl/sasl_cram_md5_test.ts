import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { SaslCramMd5 } from "../../../src/auth/sasl/sasl_cram_md5.ts";
import type { SaslCallbacks } from "../../../src/auth/sasl/types.ts";
import { decodeBase64, encodeBase64 } from "../../../src/_util/base64.ts";
import {
  bytes,
  challengeText,
  exchange,
  randomInput,
} from "../../_helpers/sasl.ts";

const lookup: SaslCallbacks = {
  lookupPassword: (name) => (name === "tim" ? "tanstaaftanstaaf" : undefined),
};
const RFC_CHALLENGE = "<1896.697170952@postoffice.reston.mci.net>";

describe("SaslCramMd5", () => {
  it("SaslCramMd5 reproduces the RFC 2195 example on the wire", async () => {
    const cram = new SaslCramMd5(lookup, { challenge: () => RFC_CHALLENGE });
    const first = await cram.start();
    assert.equal(first.type, "challenge");
    assert.equal(
      encodeBase64(
        first.type === "challenge" ? first.challenge : new Uint8Array(),
      ),
      "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
    );
    const response = decodeBase64(
      "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
    );
    assert.ok(response);
    assert.deepEqual(await cram.step(response), {
      type: "success",
      user: "tim",
      authcid: "tim",
    });
  });

  it("SaslCramMd5 compares the hex digest case-insensitively", async () => {
    const cram = new SaslCramMd5(lookup, { challenge: () => RFC_CHALLENGE });
    await cram.start();
    const step = await cram.step(bytes("tim B913A602C7EDA7A495B4E6E7334D3890"));
    assert.equal(step.type, "success");
  });

  it("SaslCramMd5 sends a fresh <random.timestamp@host> challenge", async () => {
    const a = challengeText(await new SaslCramMd5(lookup).start());
    const b = challengeText(
      await new SaslCramMd5(lookup, { hostname: "pop.example" }).start(),
    );
    assert.match(a, /^<\d+\.\d+@localhost>$/);
    assert.match(b, /^<\d+\.\d+@pop\.example>$/);
    assert.notEqual(a.split("@")[0], b.split("@")[0]);
  });

  it("SaslCramMd5 accepts digests node:crypto computes over its own challenge", async () => {
    const cram = new SaslCramMd5({ lookupPassword: () => "s3cret ü" });
    const challenge = challengeText(await cram.start());
    const digest = createHmac("md5", "s3cret ü").update(challenge).digest(
      "hex",
    );
    const step = await cram.step(bytes(`user name ${digest}`));
    assert.deepEqual(step, {
      type: "success",
      user: "user name",
      authcid: "user name",
    });
  });

  it("SaslCramMd5 fails a wrong digest and an unknown user alike", async () => {
    const wrong = new SaslCramMd5(lookup, { challenge: () => RFC_CHALLENGE });
    await wrong.start();
    const w = await wrong.step(bytes("tim b913a602c7eda7a495b4e6e7334d3891"));
    const unknown = new SaslCramMd5(lookup, { challenge: () => RFC_CHALLENGE });
    await unknown.start();
    const u = await unknown.step(bytes("bob b913a602c7eda7a495b4e6e7334d3890"));
    assert.deepEqual(w, u);
    assert.equal(w.type === "failure" && w.reason, "credentials");
  });

  it("SaslCramMd5 refuses an initial response, even an empty one", async () => {
    for (
      const initial of [
        new Uint8Array(0),
        bytes("tim b913a602c7eda7a495b4e6e7334d3890"),
      ]
    ) {
      const step = await new SaslCramMd5(lookup).start(initial);
      assert.equal(step.type === "failure" && step.reason, "malformed");
    }
  });

  it("SaslCramMd5 answers malformed responses with a failure", async () => {
    const cases = [
      "",
      "tim",
      "timb913a602c7eda7a495b4e6e7334d3890",
      " b913a602c7eda7a495b4e6e7334d3890",
      "tim b913a602c7eda7a495b4e6e7334d389",
      "tim b913a602c7eda7a495b4e6e7334d38900",
      "tim g913a602c7eda7a495b4e6e7334d3890",
      "tim b913a602c7eda7a495b4e6e7334d3890 ",
    ];
    for (const text of cases) {
      const cram = new SaslCramMd5(lookup, { challenge: () => RFC_CHALLENGE });
      await cram.start();
      const step = await cram.step(bytes(text));
      assert.equal(step.type === "failure" && step.reason, "malformed", text);
    }
  });

  it("SaslCramMd5 needs lookupPassword", () => {
    assert.throws(
      () => new SaslCramMd5({ authenticate: () => true }),
      TypeError,
    );
  });

  it("SaslCramMd5 survives random bytes", async () => {
    for (let i = 0; i < 300; i++) {
      const steps = await exchange(new SaslCramMd5(lookup), undefined, [
        randomInput(60),
      ]);
      assert.equal(steps.at(-1)!.type, "failure");
    }
  });
});
