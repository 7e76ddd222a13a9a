import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SaslXOAuth2 } from "../../../src/auth/sasl/sasl_xoauth2.ts";
import type {
  SaslCallbacks,
  SaslTokenMechanism,
} from "../../../src/auth/sasl/types.ts";
import { decodeBase64 } from "../../../src/_util/base64.ts";
import {
  bytes,
  challengeText,
  exchange,
  randomInput,
  reason,
} from "../../_helpers/sasl.ts";

// Google's XOAUTH2 documentation example.
const USER = "someuser@example.com";
const TOKEN = "ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg";
const WIRE =
  "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2cBAQ==";

function hooks(
  seen: [string, string, SaslTokenMechanism][] = [],
): SaslCallbacks {
  return {
    verifyToken: (user, token, mechanism) => {
      seen.push([user, token, mechanism]);
      return user === USER && token === TOKEN;
    },
  };
}

describe("SaslXOAuth2", () => {
  it("SaslXOAuth2 accepts Google's documented example from the wire", async () => {
    const seen: [string, string, SaslTokenMechanism][] = [];
    const initial = decodeBase64(WIRE);
    assert.ok(initial);
    assert.deepEqual(await new SaslXOAuth2(hooks(seen)).start(initial), {
      type: "success",
      user: USER,
      authcid: USER,
    });
    assert.deepEqual(seen, [[USER, TOKEN, "XOAUTH2"]]);
  });

  it("SaslXOAuth2 sends an empty challenge when there is no initial response", async () => {
    const steps = await exchange(new SaslXOAuth2(hooks()), undefined, [
      bytes(`user=${USER}\x01auth=Bearer ${TOKEN}\x01\x01`),
    ]);
    assert.equal(challengeText(steps[0]), "");
    assert.equal(steps[1].type, "success");
  });

  it("SaslXOAuth2 sends the JSON error challenge, then fails after the empty response", async () => {
    const xoauth2 = new SaslXOAuth2(hooks(), {
      scope: "https://mail.google.com/",
    });
    const step = await xoauth2.start(
      bytes(`user=${USER}\x01auth=Bearer wrong\x01\x01`),
    );
    assert.deepEqual(JSON.parse(challengeText(step)), {
      status: "401",
      schemes: "bearer",
      scope: "https://mail.google.com/",
    });
    assert.equal(reason(await xoauth2.step(new Uint8Array(0))), "credentials");
    assert.equal(reason(await xoauth2.step(new Uint8Array(0))), "malformed");
  });

  it("SaslXOAuth2 refuses malformed messages", async () => {
    const cases = [
      "",
      `user=${USER}\x01auth=Bearer ${TOKEN}`,
      `user=${USER}\x01auth=Bearer ${TOKEN}\x01`,
      `auth=Bearer ${TOKEN}\x01\x01`,
      `user=\x01auth=Bearer ${TOKEN}\x01\x01`,
      `user=${USER}\x01\x01`,
      `user=${USER}\x01auth=${TOKEN}\x01\x01`,
      `user=${USER}\x01auth=Bearer ${TOKEN}\x01user=x\x01\x01`,
    ];
    for (const text of cases) {
      const step = await new SaslXOAuth2(hooks()).start(bytes(text));
      assert.equal(reason(step), "malformed", JSON.stringify(text));
    }
  });

  it("SaslXOAuth2 needs verifyToken", () => {
    assert.throws(() => new SaslXOAuth2({}), TypeError);
  });

  it("SaslXOAuth2 survives random bytes", async () => {
    for (let i = 0; i < 300; i++) {
      const steps = await exchange(new SaslXOAuth2(hooks()), undefined, [
        randomInput(60),
        randomInput(5),
      ]);
      assert.equal(steps.at(-1)!.type, "failure");
    }
  });
});
