import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  hashPassword,
  type HashScheme,
  passwordScheme,
  verifyPassword,
} from "../../maildir.ts";

// Captured from `doveadm pw -s <SCHEME> -p secret` (Dovecot 2.3.19.1).
const DOVEADM_SECRET = [
  "{SHA512-CRYPT}$6$y7iG4i0SnXO7vM1k$x/VMV7KM3fwl/ECrjr8JREm/mFNGdCoYhEh1Wa9oTCAve.SSu02AJZUZdzfG.3x2P104jGNECIKfK4KtvdG2g/",
  "{SHA512-CRYPT}$6$rounds=10000$MS4m.Ybh5TKkf8Ul$lrh.H3LBztRApWjwDNbXOfC3q0nvRlXMOpCicPwWPMlkPNQtxGASL4oiAHwKtlAX1TLznUNPBK88CbItgesoP0",
  "{SHA256-CRYPT}$5$xmViSmy3yJU37ucX$hVScFetoHYMF7eBZFNQX47jrAHM.R.VMXSN95MqcZC8",
  "{PBKDF2}$1$4fPrGsc.pLxWWNX0$5000$d8ba11b7f4b9604732545aa949e85cff2ad0df56",
  "{SSHA256}iO0mSIaZdbNq7ZS5Ny+gCYT0YmgY8IRNbgGc6578Ec55hdEe",
  "{SSHA512}ACzrsF/uBUj7Br1X07grYdBY3MJetkCTtZ32+UKe5mvxLIVs1a+y6Q6P20c2RsiCIhUUp68E1v9AvSPLV6DZqGd1NT8=",
  "{SSHA256.HEX}1614473bb0ba5820771d85e548c3151ad69eed2baeb4c44e2cf0e745868a3c37b7e96905",
  "{SHA256}K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=",
  "{SHA512}vSsar3708Jvp9Szi2NWZZ02Bqp1qRCFpbcTZPdBhnWgs5WtNZKnvCXdhztmeD2cmW192CF5bDufKRpayrW/isg==",
  "{SSHA}2x6FKfDmOVQtnKQv7g2ymlD+UvQRdkMc",
  "{SHA1}5en6G6MezRroT3XKqkdPOmY/BfQ=",
  "{PLAIN}secret",
];

// Test vectors of Drepper's "Unix crypt using SHA-256 and SHA-512"
// specification (also produced by glibc crypt(3) and `openssl passwd`).
const SPEC_VECTORS: [password: string, hash: string][] = [
  [
    "Hello world!",
    "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
  ],
  [
    "Hello world!",
    "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
  ],
  [
    "Hello world!",
    "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
  ],
  [
    "Hello world!",
    "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
  ],
  [
    "a very much longer text to encrypt.  This one even stretches over morethan one line.",
    "$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1",
  ],
  [
    "",
    "$6$rounds=1000$emptypw$HlIvXUyYuit0YXo7TQsvDbSukfTPXqMfer3T883.YtTaRpAHhGsXXvUpZxRWVIR6LzICKFT6VsLlh3xHWI3zr0",
  ],
];

function doveadm(args: string[]): string | undefined {
  try {
    return execFileSync("doveadm", args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return undefined;
    throw error;
  }
}

const HAVE_DOVEADM = doveadm(["pw", "-l"]) !== undefined;
if (!HAVE_DOVEADM) {
  console.log(
    "doveadm not found: live doveadm tests skipped (install dovecot-core); fixed vectors still run",
  );
}

describe("verifyPassword", () => {
  for (const stored of DOVEADM_SECRET) {
    const scheme = stored.slice(1, stored.indexOf("}"));
    it(`verifies a doveadm ${scheme} hash and rejects a wrong password`, async () => {
      assert.equal(await verifyPassword("secret", stored), true);
      assert.equal(await verifyPassword("Secret", stored), false);
      assert.equal(await verifyPassword("", stored), false);
    });
  }

  it("verifies the published SHA-crypt test vectors", async () => {
    for (const [password, hash] of SPEC_VECTORS) {
      assert.equal(await verifyPassword(password, hash), true, hash);
      assert.equal(await verifyPassword(`${password}x`, hash), false, hash);
      assert.equal(await verifyPassword(password, `{CRYPT}${hash}`), true);
    }
  });

  it("verifies a non-ASCII password with a colon (doveadm SHA512-CRYPT)", async () => {
    const stored =
      "{SHA512-CRYPT}$6$AhCtLNgreO0Iq/Rt$djef1wvJfDt15c2GnyQyEZRJPHIKYbPuw5sr/P5lzf0ErJINNe7gLcNjcXSJVRb9BvypYkplR/OdjxbhFqSIG0";
    assert.equal(
      await verifyPassword("pässwörd with spaces:colon", stored),
      true,
    );
    assert.equal(
      await verifyPassword("passwörd with spaces:colon", stored),
      false,
    );
  });

  it("rejects unsupported and malformed entries", async () => {
    for (
      const stored of [
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$abc$def",
        "{CRYPT}$2y$05$FySU2XXQsO/3mKD.gj3.Getu5r7TsYF56tVkJAIS5k.H10jvjdN22",
        "{PBKDF2}$1$salt$notanumber$00",
        "{SSHA256}!!!",
        "{SHA256}AAAA",
        "secret",
      ]
    ) {
      assert.equal(await verifyPassword("secret", stored), false, stored);
    }
    assert.equal(passwordScheme("{ARGON2ID}x"), undefined);
    assert.equal(passwordScheme("{CLEAR.HEX}x"), undefined);
    assert.equal(passwordScheme("{ssha256.hex}00"), "SSHA256.HEX");
    assert.equal(passwordScheme("$6$abc$def"), "CRYPT");
  });
});

describe("hashPassword", () => {
  const schemes: HashScheme[] = [
    "SHA512-CRYPT",
    "SHA256-CRYPT",
    "SSHA512",
    "SSHA256",
    "PBKDF2",
    "PLAIN",
  ];
  for (const scheme of schemes) {
    it(`writes ${scheme} hashes that verify, with a fresh salt`, async () => {
      const a = await hashPassword("secret", { scheme });
      const b = await hashPassword("secret", { scheme });
      assert.ok(a.startsWith(`{${scheme}}`), a);
      if (scheme !== "PLAIN") assert.notEqual(a, b);
      assert.equal(await verifyPassword("secret", a), true);
      assert.equal(await verifyPassword("secret!", a), false);
    });
  }

  it("writes explicit rounds into SHA-crypt and PBKDF2 hashes", async () => {
    const crypt = await hashPassword("pw", { rounds: 1000 });
    assert.match(
      crypt,
      /^\{SHA512-CRYPT\}\$6\$rounds=1000\$[./0-9A-Za-z]{16}\$/,
    );
    assert.equal(await verifyPassword("pw", crypt), true);
    const pbkdf2 = await hashPassword("pw", { scheme: "PBKDF2", rounds: 2000 });
    assert.match(
      pbkdf2,
      /^\{PBKDF2\}\$1\$[./0-9A-Za-z]{16}\$2000\$[0-9a-f]{40}$/,
    );
  });

  it("rejects bad rounds with a RangeError", async () => {
    await assert.rejects(hashPassword("pw", { rounds: 10 }), RangeError);
    await assert.rejects(hashPassword("pw", { rounds: 1.5 }), RangeError);
  });

  it("writes hashes that doveadm verifies, and verifies fresh doveadm hashes", {
    skip: HAVE_DOVEADM ? false : "doveadm not installed",
  }, async () => {
    for (const scheme of schemes) {
      const ours = await hashPassword("s3cr3t ü", { scheme });
      const out = doveadm(["pw", "-t", ours, "-p", "s3cr3t ü"]);
      assert.match(out ?? "", /\(verified\)$/, scheme);
      const theirs = doveadm(["pw", "-s", scheme, "-p", "s3cr3t ü"]) ?? "";
      assert.equal(await verifyPassword("s3cr3t ü", theirs), true, theirs);
      assert.equal(await verifyPassword("s3cr3t u", theirs), false, theirs);
    }
  });
});
