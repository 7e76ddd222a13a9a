import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { Buffer } from "node:buffer";
import { SaslScramSha256 } from "../../../src/auth/sasl/sasl_scram_sha256.ts";
import type { SaslCallbacks } from "../../../src/auth/sasl/types.ts";
import { decodeBase64 } from "../../../src/_util/base64.ts";
import {
  bytes,
  challengeText,
  exchange,
  randomInput,
  reason,
} from "../../_helpers/sasl.ts";

// RFC 7677 section 3.
const RFC = {
  clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
  serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
  salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
  serverFirst:
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  clientFinal:
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

const lookup: SaslCallbacks = {
  lookupPassword: (name) => (name === "user" ? "pencil" : undefined),
};

function rfcScram(callbacks: SaslCallbacks = lookup): SaslScramSha256 {
  return new SaslScramSha256(callbacks, {
    nonce: () => RFC.serverNonce,
    salt: () => decodeBase64(RFC.salt)!,
  });
}

/** An independent SCRAM-SHA-256 client built on node:crypto. */
function client(password: string, gs2Header = "n,,", user = "user") {
  const nonce = "fyko+d2lbbFgONRv9qkxdawL";
  const bare = `n=${
    user.replaceAll("=", "=3D").replaceAll(",", "=2C")
  },r=${nonce}`;
  return {
    first: `${gs2Header}${bare}`,
    final(serverFirst: string): { message: string; serverFinal: string } {
      const attrs = Object.fromEntries(
        serverFirst.split(",").map((a) => [a[0], a.slice(2)]),
      );
      const salted = pbkdf2Sync(
        password,
        Buffer.from(attrs.s, "base64"),
        Number(attrs.i),
        32,
        "sha256",
      );
      const clientKey = createHmac("sha256", salted).update("Client Key")
        .digest();
      const storedKey = createHash("sha256").update(clientKey).digest();
      const withoutProof = `c=${
        Buffer.from(gs2Header).toString("base64")
      },r=${attrs.r}`;
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const signature = createHmac("sha256", storedKey).update(authMessage)
        .digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
      const serverKey = createHmac("sha256", salted).update("Server Key")
        .digest();
      const serverSignature = createHmac("sha256", serverKey).update(
        authMessage,
      )
        .digest("base64");
      return {
        message: `${withoutProof},p=${proof.toString("base64")}`,
        serverFinal: `v=${serverSignature}`,
      };
    },
  };
}

describe("SaslScramSha256", () => {
  it("SaslScramSha256 reproduces the RFC 7677 example conversation exactly", async () => {
    const scram = rfcScram();
    const first = await scram.start(bytes(RFC.clientFirst));
    assert.equal(challengeText(first), RFC.serverFirst);
    const final = await scram.step(bytes(RFC.clientFinal));
    assert.equal(challengeText(final), RFC.serverFinal);
    assert.deepEqual(await scram.step(new Uint8Array(0)), {
      type: "success",
      user: "user",
      authcid: "user",
    });
    assert.equal(reason(await scram.step(new Uint8Array(0))), "malformed");
  });

  it("SaslScramSha256 sends an empty challenge when there is no initial response", async () => {
    const steps = await exchange(rfcScram(), undefined, [
      bytes(RFC.clientFirst),
      bytes(RFC.clientFinal),
      new Uint8Array(0),
    ]);
    assert.deepEqual(
      steps.map((s) => s.type === "challenge" ? challengeText(s) : s.type),
      ["", RFC.serverFirst, RFC.serverFinal, "success"],
    );
  });

  it("SaslScramSha256 fails the RFC 7677 proof when the password differs", async () => {
    const scram = rfcScram({ lookupPassword: () => "pencil2" });
    await scram.start(bytes(RFC.clientFirst));
    const step = await scram.step(bytes(RFC.clientFinal));
    assert.deepEqual(step, {
      type: "failure",
      reason: "credentials",
      message: "Authentication failed",
    });
  });

  it("SaslScramSha256 gives unknown users a normal server-first and fails at the proof", async () => {
    const scram = new SaslScramSha256(lookup);
    const c = client("pencil", "n,,", "nobody");
    const first = challengeText(await scram.start(bytes(c.first)));
    assert.match(
      first,
      /^r=fyko\+d2lbbFgONRv9qkxdawL[A-Za-z0-9+/=]{24},s=[A-Za-z0-9+/]{22}==,i=4096$/,
    );
    assert.equal(
      reason(await scram.step(bytes(c.final(first).message))),
      "credentials",
    );
  });

  it("SaslScramSha256 interoperates with a node:crypto client, default nonce and salt", async () => {
    for (const gs2 of ["n,,", "y,,"]) {
      const scram = new SaslScramSha256(lookup, { iterations: 5000 });
      const c = client("pencil", gs2);
      const first = challengeText(await scram.start(bytes(c.first)));
      assert.match(first, /,i=5000$/);
      const { message, serverFinal } = c.final(first);
      assert.equal(
        challengeText(await scram.step(bytes(message))),
        serverFinal,
      );
      assert.equal((await scram.step(new Uint8Array(0))).type, "success");
    }
  });

  it("SaslScramSha256 uses fresh nonces and salts by default", async () => {
    const a = challengeText(
      await new SaslScramSha256(lookup).start(bytes(RFC.clientFirst)),
    );
    const b = challengeText(
      await new SaslScramSha256(lookup).start(bytes(RFC.clientFirst)),
    );
    assert.notEqual(a.split(",")[0], b.split(",")[0]);
    assert.notEqual(a.split(",")[1], b.split(",")[1]);
  });

  it("SaslScramSha256 decodes =2C and =3D in user names", async () => {
    const scram = new SaslScramSha256({
      lookupPassword: (n) => (n === "a,b=c" ? "pw" : undefined),
    });
    const c = client("pw", "n,,", "a,b=c");
    const first = challengeText(await scram.start(bytes(c.first)));
    await scram.step(bytes(c.final(first).message));
    const done = await scram.step(new Uint8Array(0));
    assert.equal(done.type === "success" && done.user, "a,b=c");
  });

  it("SaslScramSha256 prepares passwords: soft hyphens vanish, NFKC applies", async () => {
    const scram = new SaslScramSha256({
      lookupPassword: () => "pen\u00adcil\u2163",
    });
    const c = client("pencilIV");
    const first = challengeText(await scram.start(bytes(c.first)));
    assert.equal(
      (await scram.step(bytes(c.final(first).message))).type,
      "challenge",
    );
  });

  it("SaslScramSha256 refuses a different authzid unless authorize allows it", async () => {
    const refused = new SaslScramSha256(lookup);
    const c = client("pencil", "n,a=admin,");
    const first = challengeText(await refused.start(bytes(c.first)));
    assert.equal(
      reason(await refused.step(bytes(c.final(first).message))),
      "authorization",
    );

    const allowed = new SaslScramSha256({
      ...lookup,
      authorize: (authcid, authzid) =>
        authcid === "user" && authzid === "admin",
    });
    const first2 = challengeText(await allowed.start(bytes(c.first)));
    await allowed.step(bytes(c.final(first2).message));
    assert.deepEqual(await allowed.step(new Uint8Array(0)), {
      type: "success",
      user: "admin",
      authcid: "user",
    });
  });

  it("SaslScramSha256 accepts an authzid equal to the user", async () => {
    const scram = new SaslScramSha256(lookup);
    const c = client("pencil", "n,a=user,");
    const first = challengeText(await scram.start(bytes(c.first)));
    await scram.step(bytes(c.final(first).message));
    assert.equal((await scram.step(new Uint8Array(0))).type, "success");
  });

  it("SaslScramSha256 refuses channel binding (p=)", async () => {
    const step = await rfcScram().start(
      bytes("p=tls-server-end-point,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
    );
    assert.deepEqual(step, {
      type: "failure",
      reason: "malformed",
      message: "Channel binding is not supported",
    });
  });

  it("SaslScramSha256 refuses malformed client-first messages", async () => {
    const cases = [
      "",
      "n,,",
      "x,,n=user,r=abc",
      "n,n=user,r=abc",
      "n,,m=ext,n=user,r=abc",
      "n,,r=abc,n=user",
      "n,,n=,r=abc",
      "n,,n=us=er,r=abc",
      "n,,n=user,r=",
      "n,,n=user,r=ab c",
      "n,,n=user,r=abc\x7f",
      "n,,n=user",
      "n,b=x,n=user,r=abc",
      "n,a=,n=user,r=abc",
      "n,,n=user,r=abc,bogus",
    ];
    for (const text of cases) {
      assert.equal(
        reason(await rfcScram().start(bytes(text))),
        "malformed",
        text,
      );
    }
    assert.equal(
      reason(await rfcScram().start(new Uint8Array([0x6e, 0x2c, 0xff]))),
      "malformed",
    );
  });

  it("SaslScramSha256 refuses malformed or mismatched client-final messages", async () => {
    const proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const nonce = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const cases = [
      "",
      `c=biws,${nonce}`, // no proof
      `c=biws,${nonce},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ`, // bad base64
      `c=biws,${nonce},p=AAAA`, // short proof
      `c=biws,r=rOprNGfwEbeRWgbNEkqO,${proof}`, // client nonce only
      `c=biws,${nonce}x,${proof}`, // altered nonce
      `${nonce},c=biws,${proof}`, // order
      `c=eSws,${nonce},${proof}`, // binding says y,, but header was n,,
      `c=bi*s,${nonce},${proof}`,
    ];
    for (const text of cases) {
      const scram = rfcScram();
      await scram.start(bytes(RFC.clientFirst));
      assert.equal(reason(await scram.step(bytes(text))), "malformed", text);
    }
  });

  it("SaslScramSha256 fails when the client does not acknowledge with an empty response", async () => {
    const scram = rfcScram();
    await scram.start(bytes(RFC.clientFirst));
    await scram.step(bytes(RFC.clientFinal));
    assert.equal(reason(await scram.step(bytes("x"))), "malformed");
  });

  it("SaslScramSha256 validates its options", () => {
    assert.throws(() => new SaslScramSha256({}), TypeError);
    for (const iterations of [0, -1, 1.5, NaN, 1e9]) {
      assert.throws(
        () => new SaslScramSha256(lookup, { iterations }),
        RangeError,
      );
    }
  });

  it("SaslScramSha256 survives random bytes at every step", async () => {
    for (let i = 0; i < 100; i++) {
      const steps = await exchange(
        new SaslScramSha256(lookup, { iterations: 1 }),
        undefined,
        [
          i % 2 ? bytes(RFC.clientFirst) : randomInput(80),
          randomInput(120),
        ],
      );
      assert.equal(steps.at(-1)!.type, "failure");
    }
  });
});
