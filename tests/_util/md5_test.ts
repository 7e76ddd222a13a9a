import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { hmacMd5, Md5, md5, md5Hex } from "../../src/_util/md5.ts";
import { toHex } from "../../src/_util/hex.ts";

/** RFC 1321 appendix A.5 test suite. */
const RFC1321: [string, string][] = [
  ["", "d41d8cd98f00b204e9800998ecf8427e"],
  ["a", "0cc175b9c0f1b6a831c399e269772661"],
  ["abc", "900150983cd24fb0d6963f7d28e17f72"],
  ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
  ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
  [
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "d174ab98d277d9f5a5611c2c9f419d9f",
  ],
  [
    "1234567890".repeat(8),
    "57edf4a22be3c955ac49da2e2107b67a",
  ],
];

function bytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

describe("md5", () => {
  for (const [input, expected] of RFC1321) {
    it(`md5Hex matches RFC 1321 for ${JSON.stringify(input.slice(0, 20))}`, () => {
      assert.equal(md5Hex(input), expected);
      assert.equal(toHex(md5(new TextEncoder().encode(input))), expected);
    });
  }

  it("md5Hex matches the RFC 1939 APOP example", () => {
    assert.equal(
      md5Hex("<1896.697170952@dbc.mtview.ca.us>tanstaaf"),
      "c4c9334bac560ecc979e58001b3e22fb",
    );
  });

  it("md5 hashes strings as UTF-8", () => {
    const s = "pässwörd ✓ 🔑";
    assert.equal(md5Hex(s), createHash("md5").update(s, "utf8").digest("hex"));
  });

  it("md5 agrees with node:crypto around padding boundaries", () => {
    for (let n = 0; n <= 200; n++) {
      const data = randomBytes(n);
      assert.equal(
        md5Hex(new Uint8Array(data)),
        createHash("md5").update(data).digest("hex"),
        `length ${n}`,
      );
    }
  });

  it("Md5 agrees with node:crypto on random inputs split at random boundaries", () => {
    for (let round = 0; round < 200; round++) {
      const data = new Uint8Array(
        randomBytes(Math.floor(Math.random() * 3000)),
      );
      const hasher = new Md5();
      let offset = 0;
      while (offset < data.length) {
        const size = Math.floor(Math.random() * 150);
        hasher.update(data.subarray(offset, offset + size));
        offset += size;
      }
      assert.equal(
        toHex(hasher.digest()),
        createHash("md5").update(data).digest("hex"),
        `round ${round}, length ${data.length}`,
      );
    }
  });

  it("Md5 digest can be called mid-stream without disturbing the state", () => {
    const hasher = new Md5().update("abc");
    assert.equal(toHex(hasher.digest()), "900150983cd24fb0d6963f7d28e17f72");
    assert.equal(toHex(hasher.digest()), "900150983cd24fb0d6963f7d28e17f72");
    hasher.update("defghijklmnopqrstuvwxyz");
    assert.equal(toHex(hasher.digest()), "c3fcd3d76192e4007dfb496cca67e13b");
  });

  it("Md5 one byte at a time matches a single update", () => {
    const data = new Uint8Array(randomBytes(1000));
    const hasher = new Md5();
    for (const b of data) hasher.update(new Uint8Array([b]));
    assert.deepEqual(hasher.digest(), md5(data));
  });

  it("Md5 handles a megabyte", () => {
    const data = new Uint8Array(randomBytes(1 << 20));
    assert.equal(md5Hex(data), createHash("md5").update(data).digest("hex"));
  });

  it("md5 rejects non-byte input with a TypeError", () => {
    assert.throws(() => md5(42 as unknown as string), TypeError);
  });
});

describe("hmacMd5", () => {
  // RFC 2202 section 2 (the RFC 2104 vectors are cases 1 and 2 and 3).
  const cases: [Uint8Array | string, Uint8Array | string, string][] = [
    [
      bytes("0b".repeat(16)),
      "Hi There",
      "9294727a3638bb1c13f48ef8158bfc9d",
    ],
    [
      "Jefe",
      "what do ya want for nothing?",
      "750c783e6ab0b503eaa86e310a5db738",
    ],
    [
      bytes("aa".repeat(16)),
      bytes("dd".repeat(50)),
      "56be34521d144c88dbb8c733f0e8b3f6",
    ],
    [
      bytes("0102030405060708090a0b0c0d0e0f10111213141516171819"),
      bytes("cd".repeat(50)),
      "697eaf0aca3a3aea3a75164746ffaa79",
    ],
    [
      bytes("0c".repeat(16)),
      "Test With Truncation",
      "56461ef2342edc00f9bab995690efd4c",
    ],
    [
      bytes("aa".repeat(80)),
      "Test Using Larger Than Block-Size Key - Hash Key First",
      "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
    ],
    [
      bytes("aa".repeat(80)),
      "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
      "6f630fad67cda0ee1fb1f562db3aa53e",
    ],
  ];
  cases.forEach(([key, data, expected], i) => {
    it(`hmacMd5 matches RFC 2202 test case ${i + 1}`, () => {
      assert.equal(toHex(hmacMd5(key, data)), expected);
    });
  });

  it("hmacMd5 matches the RFC 2195 CRAM-MD5 example", () => {
    assert.equal(
      toHex(
        hmacMd5(
          "tanstaaftanstaaf",
          "<1896.697170952@postoffice.reston.mci.net>",
        ),
      ),
      "b913a602c7eda7a495b4e6e7334d3890",
    );
  });

  it("hmacMd5 agrees with node:crypto for random keys and data", () => {
    for (let round = 0; round < 100; round++) {
      const key = new Uint8Array(randomBytes(Math.floor(Math.random() * 150)));
      const data = new Uint8Array(randomBytes(Math.floor(Math.random() * 300)));
      assert.equal(
        toHex(hmacMd5(key, data)),
        createHmac("md5", key).update(data).digest("hex"),
      );
    }
  });
});
