/**
 * Password hashes in the formats Dovecot writes (`doveadm pw`): verifying
 * and creating them with `crypto.subtle`, comparing in constant time.
 *
 * @example Hashing and verifying a password
 * ```ts
 * import { hashPassword, verifyPassword } from "@x/pop3d/maildir";
 *
 * const stored = await hashPassword("secret");
 * console.assert(stored.startsWith("{SHA512-CRYPT}$6$"));
 * console.assert(await verifyPassword("secret", stored));
 * console.assert(!(await verifyPassword("Secret", stored)));
 * ```
 *
 * @module
 */

import { decodeBase64Lenient, encodeBase64 } from "../_util/base64.ts";
import { concatBytes } from "../_util/concat.ts";
import { fromHex, toHex } from "../_util/hex.ts";
import { pbkdf2 } from "../_util/pbkdf2.ts";
import { timingSafeEqual } from "../_util/timing_safe_equal.ts";

/** The schemes {@linkcode hashPassword} can write. */
export type HashScheme =
  | "SHA512-CRYPT"
  | "SHA256-CRYPT"
  | "SSHA512"
  | "SSHA256"
  | "PBKDF2"
  | "PLAIN";

/**
 * Every scheme {@linkcode verifyPassword} accepts, as written between braces
 * (`{SCHEME}`). `CRYPT` accepts the `$5$` and `$6$` crypt formats only; the
 * digest schemes also accept Dovecot's `.HEX` and `.B64` suffixes.
 */
export const PASSWORD_SCHEMES: readonly string[] = Object.freeze([
  "PLAIN",
  "CLEAR",
  "CLEARTEXT",
  "CRYPT",
  "SHA512-CRYPT",
  "SHA256-CRYPT",
  "SHA",
  "SHA1",
  "SHA256",
  "SHA512",
  "SSHA",
  "SSHA256",
  "SSHA512",
  "PBKDF2",
]);

/** Options for {@linkcode hashPassword}. */
export interface HashPasswordOptions {
  /**
   * The scheme to write.
   *
   * @default {"SHA512-CRYPT"}
   */
  scheme?: HashScheme;
  /**
   * Rounds for `SHA512-CRYPT`/`SHA256-CRYPT` (1000 to 999999999) and
   * `PBKDF2`; the scheme's default (5000) when omitted.
   */
  rounds?: number;
}

const ENCODER = new TextEncoder();
const CRYPT_ALPHABET =
  "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DEFAULT_ROUNDS = 5000;

/**
 * Tells whether `stored` is a password entry {@linkcode verifyPassword} can
 * check: `{SCHEME}data` with a supported scheme, or a bare `$5$`/`$6$`
 * crypt string.
 *
 * @param stored The password field of a passwd-file line.
 * @returns The upper-case scheme name, or `undefined` when unsupported.
 *
 * @example
 * ```ts
 * import { passwordScheme } from "@x/pop3d/maildir";
 * console.assert(passwordScheme("{plain}pw") === "PLAIN");
 * console.assert(passwordScheme("{ARGON2ID}x") === undefined);
 * ```
 */
export function passwordScheme(stored: string): string | undefined {
  const [scheme, data] = splitScheme(stored);
  const base = scheme.replace(/\.(HEX|B64)$/, "");
  if (!PASSWORD_SCHEMES.includes(base)) return undefined;
  if (base !== scheme && !DIGESTS.has(base)) return undefined;
  if (base === "CRYPT" && !/^\$[56]\$/.test(data)) return undefined;
  return scheme;
}

/**
 * Checks a password against a stored entry in Dovecot's format. Unsupported
 * or malformed entries never match. Comparisons run in constant time.
 *
 * @param password The password the client sent.
 * @param stored `{SCHEME}data` (for example `{SHA512-CRYPT}$6$...`), or a
 *   bare `$6$`/`$5$` crypt string (Dovecot's default `CRYPT` scheme).
 * @returns Whether the password matches.
 *
 * @example Verifying a hash from `doveadm pw -s SSHA256 -p secret`
 * ```ts
 * import { verifyPassword } from "@x/pop3d/maildir";
 * const stored = "{SSHA256}iO0mSIaZdbNq7ZS5Ny+gCYT0YmgY8IRNbgGc6578Ec55hdEe";
 * console.assert(await verifyPassword("secret", stored));
 * ```
 */
export async function verifyPassword(
  password: string,
  stored: string,
): Promise<boolean> {
  const scheme = passwordScheme(stored);
  if (scheme === undefined) return false;
  const data = splitScheme(stored)[1];
  const pw = ENCODER.encode(password);
  switch (scheme) {
    case "PLAIN":
    case "CLEAR":
    case "CLEARTEXT":
      return timingSafeEqual(pw, ENCODER.encode(data));
    case "CRYPT":
    case "SHA512-CRYPT":
    case "SHA256-CRYPT": {
      const computed = await shaCrypt(pw, data);
      return computed !== undefined &&
        timingSafeEqual(ENCODER.encode(computed), ENCODER.encode(data));
    }
    case "PBKDF2":
      return await verifyPbkdf2(pw, data);
    default:
      return await verifyDigest(pw, scheme, data);
  }
}

/**
 * Hashes a password the way `doveadm pw -s SCHEME` does, with a fresh
 * random salt.
 *
 * @param password The password to hash.
 * @param options The scheme (default `SHA512-CRYPT`) and rounds.
 * @returns The `{SCHEME}data` string for a passwd-file.
 * @throws {RangeError} When `rounds` is out of range.
 *
 * @example
 * ```ts
 * import { hashPassword, verifyPassword } from "@x/pop3d/maildir";
 * const stored = await hashPassword("pw", { scheme: "PBKDF2" });
 * console.assert(stored.startsWith("{PBKDF2}$1$"));
 * console.assert(await verifyPassword("pw", stored));
 * ```
 */
export async function hashPassword(
  password: string,
  options: HashPasswordOptions = {},
): Promise<string> {
  const scheme = options.scheme ?? "SHA512-CRYPT";
  const rounds = options.rounds;
  if (
    rounds !== undefined &&
    (!Number.isInteger(rounds) || rounds < 1000 || rounds > 999_999_999)
  ) {
    throw new RangeError(
      `Cannot hash password: rounds must be an integer from 1000 to 999999999, got ${rounds}`,
    );
  }
  const pw = ENCODER.encode(password);
  switch (scheme) {
    case "PLAIN":
      return `{PLAIN}${password}`;
    case "SHA512-CRYPT":
    case "SHA256-CRYPT": {
      const id = scheme === "SHA512-CRYPT" ? "6" : "5";
      const prefix = rounds === undefined ? "" : `rounds=${rounds}$`;
      const setting = `$${id}$${prefix}${randomCryptSalt(16)}`;
      const result = await shaCrypt(pw, setting);
      if (result === undefined) throw new Error("Cannot hash password");
      return `{${scheme}}${result}`;
    }
    case "SSHA256":
    case "SSHA512": {
      const salt = crypto.getRandomValues(new Uint8Array(8));
      const hash = scheme === "SSHA256" ? "SHA-256" : "SHA-512";
      const digest = await sha(hash, concatBytes([pw, salt]));
      return `{${scheme}}${encodeBase64(concatBytes([digest, salt]))}`;
    }
    case "PBKDF2": {
      const salt = randomCryptSalt(16);
      const n = rounds ?? DEFAULT_ROUNDS;
      const hex = toHex(await pbkdf2Sha1(pw, ENCODER.encode(salt), n));
      return `{PBKDF2}$1$${salt}$${n}$${hex}`;
    }
    default:
      throw new RangeError(
        `Cannot hash password: unsupported scheme "${String(scheme)}"`,
      );
  }
}

const DIGESTS = new Map<string, [hash: string, salted: boolean, len: number]>([
  ["SHA", ["SHA-1", false, 20]],
  ["SHA1", ["SHA-1", false, 20]],
  ["SHA256", ["SHA-256", false, 32]],
  ["SHA512", ["SHA-512", false, 64]],
  ["SSHA", ["SHA-1", true, 20]],
  ["SSHA256", ["SHA-256", true, 32]],
  ["SSHA512", ["SHA-512", true, 64]],
]);

function splitScheme(stored: string): [scheme: string, data: string] {
  const match = /^\{([A-Za-z0-9.-]+)\}/.exec(stored);
  if (match === null) return ["CRYPT", stored];
  return [match[1].toUpperCase(), stored.slice(match[0].length)];
}

async function verifyDigest(
  pw: Uint8Array,
  scheme: string,
  data: string,
): Promise<boolean> {
  const [base, encoding] = scheme.split(".");
  const spec = DIGESTS.get(base);
  if (spec === undefined) return false;
  const [hash, salted, len] = spec;
  const raw = encoding === "HEX" ? fromHex(data) : decodeBase64Lenient(data);
  if (raw === undefined || raw.length < len || (!salted && raw.length > len)) {
    return false;
  }
  const salt = raw.subarray(len);
  const digest = await sha(hash, concatBytes([pw, salt]));
  return timingSafeEqual(digest, raw.subarray(0, len));
}

async function verifyPbkdf2(pw: Uint8Array, data: string): Promise<boolean> {
  const match = /^\$1\$([^$]+)\$(\d{1,9})\$([0-9a-fA-F]+)$/.exec(data);
  if (match === null) return false;
  const rounds = Number(match[2]);
  const expected = fromHex(match[3]);
  if (rounds < 1 || expected === undefined || expected.length !== 20) {
    return false;
  }
  const derived = await pbkdf2Sha1(pw, ENCODER.encode(match[1]), rounds);
  return timingSafeEqual(derived, expected);
}

function pbkdf2Sha1(
  pw: Uint8Array,
  salt: Uint8Array,
  rounds: number,
): Promise<Uint8Array> {
  return pbkdf2("SHA-1", pw, salt, rounds, 160);
}

async function sha(hash: string, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest(hash, data as Uint8Array<ArrayBuffer>),
  );
}

// Byte order of the final encoding step of SHA-crypt, three bytes per four
// characters (Drepper, "Unix crypt using SHA-256 and SHA-512", step 22).
const ORDER_512 = [
  [0, 21, 42],
  [22, 43, 1],
  [44, 2, 23],
  [3, 24, 45],
  [25, 46, 4],
  [47, 5, 26],
  [6, 27, 48],
  [28, 49, 7],
  [50, 8, 29],
  [9, 30, 51],
  [31, 52, 10],
  [53, 11, 32],
  [12, 33, 54],
  [34, 55, 13],
  [56, 14, 35],
  [15, 36, 57],
  [37, 58, 16],
  [59, 17, 38],
  [18, 39, 60],
  [40, 61, 19],
  [62, 20, 41],
];
const ORDER_256 = [
  [0, 10, 20],
  [21, 1, 11],
  [12, 22, 2],
  [3, 13, 23],
  [24, 4, 14],
  [15, 25, 5],
  [6, 16, 26],
  [27, 7, 17],
  [18, 28, 8],
  [9, 19, 29],
];

/**
 * Computes the SHA-crypt string for `setting` (`$6$[rounds=N$]salt[$...]`):
 * the full `$id$...$hash` string, or `undefined` for a malformed setting.
 */
async function shaCrypt(
  pw: Uint8Array,
  setting: string,
): Promise<string | undefined> {
  const match = /^\$([56])\$(?:rounds=(\d{1,10})\$)?([^$]*)/.exec(setting);
  if (match === null) return undefined;
  const is512 = match[1] === "6";
  const hash = is512 ? "SHA-512" : "SHA-256";
  let rounds = DEFAULT_ROUNDS;
  if (match[2] !== undefined) {
    rounds = Math.min(999_999_999, Math.max(1000, Number(match[2])));
  }
  const saltText = match[3].slice(0, 16);
  const salt = ENCODER.encode(saltText);
  const h = (parts: Uint8Array[]) => sha(hash, concatBytes(parts));

  const b = await h([pw, salt, pw]);
  const aParts: Uint8Array[] = [pw, salt, repeatTo(b, pw.length)];
  for (let n = pw.length; n > 0; n >>= 1) aParts.push(n & 1 ? b : pw);
  const a = await h(aParts);
  const dp = await h(Array(pw.length).fill(pw));
  const p = repeatTo(dp, pw.length);
  const ds = await h(Array(16 + a[0]).fill(salt));
  const s = repeatTo(ds, salt.length);

  let c = a;
  for (let i = 0; i < rounds; i++) {
    const parts: Uint8Array[] = [i & 1 ? p : c];
    if (i % 3 !== 0) parts.push(s);
    if (i % 7 !== 0) parts.push(p);
    parts.push(i & 1 ? c : p);
    c = await h(parts);
  }

  let out = "";
  for (const [x, y, z] of is512 ? ORDER_512 : ORDER_256) {
    out += encode24(c[x], c[y], c[z], 4);
  }
  out += is512 ? encode24(0, 0, c[63], 2) : encode24(0, c[31], c[30], 3);
  const roundsPart = match[2] === undefined ? "" : `rounds=${rounds}$`;
  return `$${match[1]}$${roundsPart}${saltText}$${out}`;
}

function encode24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = "";
  for (let i = 0; i < n; i++) {
    out += CRYPT_ALPHABET[w & 0x3f];
    w >>= 6;
  }
  return out;
}

function repeatTo(block: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += block.length) {
    out.set(block.subarray(0, Math.min(block.length, length - i)), i);
  }
  return out;
}

function randomCryptSalt(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const byte of bytes) out += CRYPT_ALPHABET[byte & 0x3f];
  return out;
}
