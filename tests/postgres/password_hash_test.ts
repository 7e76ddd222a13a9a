import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  hashPassword,
  isPasswordHash,
  verifyPassword,
} from "../../src/postgres/password_hash.ts";
import { POSTGRES_SCHEMA } from "../../src/postgres/schema.ts";

describe("password_hash", () => {
  it("verifyPassword accepts the RFC 7914 PBKDF2-HMAC-SHA-256 vector", async () => {
    // RFC 7914 §11: P="Password", S="NaCl", c=80000; first 32 bytes of DK.
    const stored =
      "$pbkdf2-sha256$80000$TmFDbA==$TdzY9guYviGDDO5e8icB+WQaRBjQTAQUrv8Ih2s0q1Y=";
    assert.equal(await verifyPassword(stored, "Password"), true);
    assert.equal(await verifyPassword(stored, "password"), false);
  });

  it("hashPassword salts each hash and verifyPassword checks it", async () => {
    const a = await hashPassword("s3cret", { iterations: 1000 });
    const b = await hashPassword("s3cret", { iterations: 1000 });
    assert.notEqual(a, b);
    assert.match(
      a,
      /^\$pbkdf2-sha256\$1000\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{44}$/,
    );
    assert.equal(isPasswordHash(a), true);
    assert.equal(await verifyPassword(a, "s3cret"), true);
    assert.equal(await verifyPassword(a, "s3cret "), false);
  });

  it("verifyPassword compares plaintext and rejects malformed hashes", async () => {
    assert.equal(await verifyPassword("plain", "plain"), true);
    assert.equal(await verifyPassword("plain", "plai"), false);
    assert.equal(
      await verifyPassword("$pbkdf2-sha256$12$AA==$AA==", "x"),
      false,
    );
    assert.equal(
      await verifyPassword("$pbkdf2-sha256$1000$!!$AA==", "x"),
      false,
    );
  });

  it("hashPassword rejects bad iteration counts", async () => {
    await assert.rejects(hashPassword("x", { iterations: 10 }), RangeError);
    await assert.rejects(hashPassword("x", { iterations: 1.5 }), RangeError);
  });
});

describe("schema", () => {
  it("src/postgres/schema.sql holds POSTGRES_SCHEMA", () => {
    const file = readFileSync(
      new URL("../../src/postgres/schema.sql", import.meta.url),
      "utf8",
    );
    const body = file.split("\n").filter((l) =>
      !l.startsWith("-- ") || l.startsWith("  ")
    ).join("\n");
    assert.equal(body.trim(), POSTGRES_SCHEMA.trim());
  });
});
