/**
 * MD5 (RFC 1321) and HMAC-MD5 (RFC 2104) in plain JavaScript, because
 * WebCrypto has no MD5. Used for APOP and CRAM-MD5 only; MD5 is not a safe
 * general-purpose hash.
 *
 * @module
 */

import { toHex } from "./hex.ts";

/** Per-round additive constants: floor(abs(sin(i + 1)) * 2 ** 32). */
// deno-fmt-ignore
const K = new Int32Array([
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
  0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
  0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
  0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
  0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
  0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
  0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
  0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
  0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
]);

/** Left-rotation amounts, four per round. */
const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

const encoder = new TextEncoder();

function toBytes(data: Uint8Array | string): Uint8Array {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  throw new TypeError("Cannot hash data: expected a Uint8Array or a string");
}

/**
 * Incremental MD5. Feed it with {@linkcode Md5.update} in chunks of any size;
 * {@linkcode Md5.digest} returns the hash of everything fed so far and
 * leaves the state untouched, so more data may follow.
 *
 * @example Hashing in two chunks
 * ```ts
 * import { Md5 } from "./md5.ts";
 * const hex = Array.from(new Md5().update("a").update("bc").digest(),
 *   (b) => b.toString(16).padStart(2, "0")).join("");
 * console.assert(hex === "900150983cd24fb0d6963f7d28e17f72");
 * ```
 */
export class Md5 {
  #state = new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
  #block = new Uint8Array(64);
  #words = new Int32Array(16);
  #buffered = 0;
  #length = 0;

  /**
   * Adds data to the hash.
   *
   * @param data Bytes, or a string hashed as UTF-8.
   * @returns This hasher, for chaining.
   * @throws {TypeError} If `data` is neither bytes nor a string.
   *
   * @example
   * ```ts
   * import { Md5 } from "./md5.ts";
   * const hash = new Md5().update(new Uint8Array([1, 2])).update("x");
   * console.assert(hash.digest().length === 16);
   * ```
   */
  update(data: Uint8Array | string): this {
    const bytes = toBytes(data);
    this.#length += bytes.length;
    let offset = 0;
    if (this.#buffered > 0) {
      const take = Math.min(64 - this.#buffered, bytes.length);
      this.#block.set(bytes.subarray(0, take), this.#buffered);
      this.#buffered += take;
      offset = take;
      if (this.#buffered < 64) return this;
      compress(this.#state, this.#words, this.#block, 0);
      this.#buffered = 0;
    }
    for (; offset + 64 <= bytes.length; offset += 64) {
      compress(this.#state, this.#words, bytes, offset);
    }
    if (offset < bytes.length) {
      this.#block.set(bytes.subarray(offset));
      this.#buffered = bytes.length - offset;
    }
    return this;
  }

  /**
   * Returns the 16-byte hash of the data added so far. The hasher stays
   * usable: later updates continue from the same data.
   *
   * @returns A fresh 16-byte array.
   *
   * @example
   * ```ts
   * import { Md5 } from "./md5.ts";
   * console.assert(new Md5().digest()[0] === 0xd4);
   * ```
   */
  digest(): Uint8Array {
    const state = this.#state.slice();
    const words = new Int32Array(16);
    const tail = new Uint8Array(128);
    tail.set(this.#block.subarray(0, this.#buffered));
    tail[this.#buffered] = 0x80;
    const end = this.#buffered < 56 ? 64 : 128;
    const bits = this.#length * 8;
    const lo = bits % 0x100000000;
    const hi = Math.floor(bits / 0x100000000);
    for (let i = 0; i < 4; i++) {
      tail[end - 8 + i] = (lo >>> (8 * i)) & 0xff;
      tail[end - 4 + i] = (hi >>> (8 * i)) & 0xff;
    }
    for (let offset = 0; offset < end; offset += 64) {
      compress(state, words, tail, offset);
    }
    const out = new Uint8Array(16);
    for (let i = 0; i < 16; i++) {
      out[i] = (state[i >> 2] >>> (8 * (i & 3))) & 0xff;
    }
    return out;
  }
}

/** Runs the MD5 compression function over one 64-byte block. */
function compress(
  state: Int32Array,
  x: Int32Array,
  bytes: Uint8Array,
  offset: number,
): void {
  for (let i = 0; i < 16; i++) {
    const o = offset + 4 * i;
    x[i] = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) |
      (bytes[o + 3] << 24);
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  for (let i = 0; i < 64; i++) {
    let f: number;
    let g: number;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    const sum = (a + f + K[i] + x[g]) | 0;
    const s = S[((i >> 4) << 2) | (i & 3)];
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
}

/**
 * Hashes data with MD5 in one call.
 *
 * @param data Bytes, or a string hashed as UTF-8.
 * @returns The 16-byte hash.
 * @throws {TypeError} If `data` is neither bytes nor a string.
 *
 * @example
 * ```ts
 * import { md5 } from "./md5.ts";
 * console.assert(md5("").length === 16);
 * ```
 */
export function md5(data: Uint8Array | string): Uint8Array {
  return new Md5().update(data).digest();
}

/**
 * Hashes data with MD5 and returns lowercase hexadecimal, as APOP sends it.
 *
 * @param data Bytes, or a string hashed as UTF-8.
 * @returns 32 lowercase hexadecimal digits.
 * @throws {TypeError} If `data` is neither bytes nor a string.
 *
 * @example The RFC 1939 APOP example
 * ```ts
 * import { md5Hex } from "./md5.ts";
 * const digest = md5Hex("<1896.697170952@dbc.mtview.ca.us>tanstaaf");
 * console.assert(digest === "c4c9334bac560ecc979e58001b3e22fb");
 * ```
 */
export function md5Hex(data: Uint8Array | string): string {
  return toHex(md5(data));
}

/**
 * Computes HMAC-MD5 (RFC 2104), as CRAM-MD5 uses it.
 *
 * @param key The secret key; keys over 64 bytes are hashed first.
 * @param data The message to authenticate.
 * @returns The 16-byte MAC.
 * @throws {TypeError} If an argument is neither bytes nor a string.
 *
 * @example RFC 2202 test case 2
 * ```ts
 * import { hmacMd5 } from "./md5.ts";
 * const mac = hmacMd5("Jefe", "what do ya want for nothing?");
 * console.assert(mac[0] === 0x75 && mac[15] === 0x38);
 * ```
 */
export function hmacMd5(
  key: Uint8Array | string,
  data: Uint8Array | string,
): Uint8Array {
  let k = toBytes(key);
  if (k.length > 64) k = md5(k);
  const pad = new Uint8Array(64);
  pad.set(k);
  for (let i = 0; i < 64; i++) pad[i] ^= 0x36;
  const inner = new Md5().update(pad).update(data).digest();
  for (let i = 0; i < 64; i++) pad[i] ^= 0x36 ^ 0x5c;
  return new Md5().update(pad).update(inner).digest();
}
