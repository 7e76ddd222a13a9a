import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SaslOAuthBearer } from "../../../src/auth/sasl/sasl_oauthbearer.ts";
import type {
  SaslCallbacks,
  SaslTokenMechanism,
} from "../../../src/auth/sasl/types.ts";
import {
  bytes,
  challengeText,
  exchange,
  randomInput,
  reason,
} from "../../_helpers/sasl.ts";

// RFC 7628 section 4.1.
const TOKEN = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";
const RFC_MESSAGE = "n,a=user@example.com,\x01host=server.example.com\x01" +
  `port=143\x01auth=Bearer ${TOKEN}\x01\x01`;

function hooks(
  seen: [string, string, SaslTokenMechanism][] = [],
): SaslCallbacks {
  return {
    verifyToken: (user, token, mechanism) => {
      seen.push([user, token, mechanism]);
      return user === "user@example.com" && token === TOKEN;
    },
  };
}

describe("SaslOAuthBearer", () => {
  it("SaslOAuthBearer accepts the RFC 7628 example message", async () => {
    const seen: [string, string, SaslTokenMechanism][] = [];
    const step = await new SaslOAuthBearer(hooks(seen)).start(
      bytes(RFC_MESSAGE),
    );
    assert.deepEqual(step, {
      type: "success",
      user: "user@example.com",
      authcid: "user@example.com",
    });
    assert.deepEqual(seen, [["user@example.com", TOKEN, "OAUTHBEARER"]]);
  });

  it("SaslOAuthBearer sends an empty challenge when there is no initial response", async () => {
    const steps = await exchange(new SaslOAuthBearer(hooks()), undefined, [
      bytes(RFC_MESSAGE),
    ]);
    assert.equal(challengeText(steps[0]), "");
    assert.equal(steps[1].type, "success");
  });

  it("SaslOAuthBearer sends the JSON error challenge, then fails after the client's \\x01", async () => {
    const bearer = new SaslOAuthBearer(hooks(), {
      scope: "mail",
      openidConfiguration:
        "https://example.com/.well-known/openid-configuration",
    });
    const message = RFC_MESSAGE.replace(TOKEN, "expired");
    const error = JSON.parse(challengeText(await bearer.start(bytes(message))));
    assert.deepEqual(error, {
      status: "invalid_token",
      scope: "mail",
      "openid-configuration":
        "https://example.com/.well-known/openid-configuration",
    });
    assert.deepEqual(await bearer.step(bytes("\x01")), {
      type: "failure",
      reason: "credentials",
      message: "Authentication failed",
    });
  });

  it("SaslOAuthBearer error challenge has only the status without options", async () => {
    const step = await new SaslOAuthBearer(hooks()).start(
      bytes("n,a=someone,\x01auth=Bearer abc\x01\x01"),
    );
    assert.equal(challengeText(step), '{"status":"invalid_token"}');
  });

  it("SaslOAuthBearer accepts the y flag and a lowercase scheme", async () => {
    const step = await new SaslOAuthBearer(hooks()).start(
      bytes(`y,a=user@example.com,\x01auth=bearer ${TOKEN}\x01\x01`),
    );
    assert.equal(step.type, "success");
  });

  it("SaslOAuthBearer refuses channel binding and malformed messages", async () => {
    const cases = [
      "",
      "\x01",
      `p=tls-unique,a=user@example.com,\x01auth=Bearer ${TOKEN}\x01\x01`,
      `n,a=user@example.com,auth=Bearer ${TOKEN}\x01\x01`,
      `n,a=user@example.com,\x01auth=Bearer ${TOKEN}\x01`,
      `n,a=user@example.com,\x01host=x\x01\x01`,
      `n,a=user@example.com,\x01auth=Basic dXNlcjpwdw==\x01\x01`,
      `n,a=user@example.com,\x01auth=Bearer\x01\x01`,
      `n,a=user@example.com,\x01auth=Bearer a b\x01\x01`,
      `n,a=user@example.com,\x01auth=Bearer ${TOKEN}\x01auth=Bearer x\x01\x01`,
      `n,a=user@example.com,\x01noequals\x01auth=Bearer ${TOKEN}\x01\x01`,
      `n,,\x01auth=Bearer ${TOKEN}\x01\x01`, // no user named
      `n,a=us=er,\x01auth=Bearer ${TOKEN}\x01\x01`,
    ];
    for (const text of cases) {
      const step = await new SaslOAuthBearer(hooks()).start(bytes(text));
      assert.equal(reason(step), "malformed", JSON.stringify(text));
    }
  });

  it("SaslOAuthBearer needs verifyToken", () => {
    assert.throws(
      () => new SaslOAuthBearer({ lookupPassword: () => "x" }),
      TypeError,
    );
  });

  it("SaslOAuthBearer survives random bytes", async () => {
    for (let i = 0; i < 300; i++) {
      const steps = await exchange(new SaslOAuthBearer(hooks()), undefined, [
        randomInput(60),
        randomInput(5),
      ]);
      assert.equal(steps.at(-1)!.type, "failure");
    }
  });
});
