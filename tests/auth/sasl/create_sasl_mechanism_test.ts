import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createSaslMechanism } from "../../../src/auth/sasl/create_sasl_mechanism.ts";
import { saslMechanisms } from "../../../src/auth/sasl/sasl_mechanisms.ts";
import type { SaslCallbacks } from "../../../src/auth/sasl/types.ts";
import { bytes, challengeText } from "../../_helpers/sasl.ts";

const lookupPassword = (
  name: string,
) => (name === "user" ? "pencil" : undefined);
const authenticate = () => false;
const verifyToken = () => false;

describe("saslMechanisms", () => {
  it("saslMechanisms lists what each set of callbacks can support, strongest first", () => {
    const table: [SaslCallbacks, string][] = [
      [{}, ""],
      [{ lookupPassword }, "SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN"],
      [{ authenticate }, "PLAIN LOGIN"],
      [{ lookupPassword, authenticate }, "SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN"],
      [{ verifyToken }, "OAUTHBEARER XOAUTH2"],
      [
        { lookupPassword, verifyToken },
        "SCRAM-SHA-256 CRAM-MD5 OAUTHBEARER XOAUTH2 PLAIN LOGIN",
      ],
    ];
    for (const [callbacks, expected] of table) {
      assert.equal(
        saslMechanisms(callbacks).join(" "),
        expected,
        Object.keys(callbacks).join(),
      );
    }
  });

  it("saslMechanisms leaves out cleartext credentials when cleartext is false", () => {
    const all = { lookupPassword, authenticate, verifyToken };
    assert.deepEqual(saslMechanisms(all, { cleartext: false }), [
      "SCRAM-SHA-256",
      "CRAM-MD5",
    ]);
    assert.deepEqual(
      saslMechanisms({ authenticate }, { cleartext: false }),
      [],
    );
  });
});

describe("createSaslMechanism", () => {
  it("createSaslMechanism matches names case-insensitively", async () => {
    const scram = createSaslMechanism("scram-sha-256", { lookupPassword });
    assert.equal(scram?.name, "SCRAM-SHA-256");
    const plain = createSaslMechanism("Plain", { lookupPassword });
    assert.deepEqual(await plain?.start(bytes("\0user\0pencil")), {
      type: "success",
      user: "user",
      authcid: "user",
    });
  });

  it("createSaslMechanism returns undefined for unknown or unavailable mechanisms", () => {
    assert.equal(createSaslMechanism("GSSAPI", { lookupPassword }), undefined);
    assert.equal(createSaslMechanism("", { lookupPassword }), undefined);
    assert.equal(createSaslMechanism("CRAM-MD5", { authenticate }), undefined);
    assert.equal(createSaslMechanism("XOAUTH2", { lookupPassword }), undefined);
    assert.equal(
      createSaslMechanism("PLAIN", { lookupPassword }, { cleartext: false }),
      undefined,
    );
    assert.equal(
      createSaslMechanism("OAUTHBEARER", { verifyToken }, { cleartext: false }),
      undefined,
    );
  });

  it("createSaslMechanism accepts exactly what saslMechanisms advertises", () => {
    const names = [
      "SCRAM-SHA-256",
      "CRAM-MD5",
      "OAUTHBEARER",
      "XOAUTH2",
      "PLAIN",
      "LOGIN",
    ];
    const sets: SaslCallbacks[] = [
      {},
      { lookupPassword },
      { authenticate },
      { verifyToken },
      { lookupPassword, verifyToken },
    ];
    for (const callbacks of sets) {
      for (const cleartext of [true, false]) {
        const advertised = saslMechanisms(callbacks, { cleartext });
        const created = names.filter((n) =>
          createSaslMechanism(n, callbacks, { cleartext }) !== undefined
        );
        assert.deepEqual(created, advertised);
      }
    }
  });

  it("createSaslMechanism passes per-mechanism options through", async () => {
    const cram = createSaslMechanism("CRAM-MD5", { lookupPassword }, {
      cramMd5: { hostname: "pop.example" },
    });
    assert.match(challengeText(await cram!.start()), /@pop\.example>$/);
    const scram = createSaslMechanism("SCRAM-SHA-256", { lookupPassword }, {
      scramSha256: { iterations: 8192 },
    });
    assert.match(
      challengeText(await scram!.start(bytes("n,,n=user,r=abc"))),
      /,i=8192$/,
    );
    assert.throws(
      () =>
        createSaslMechanism("SCRAM-SHA-256", { lookupPassword }, {
          scramSha256: { iterations: 0 },
        }),
      RangeError,
    );
  });
});
