/** A small seeded PRNG (mulberry32), so random tests can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in `[0, n)`. */
export function int(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

/** Splits `bytes` at random points into chunks (some of length 1). */
export function randomSplit(
  rand: () => number,
  bytes: Uint8Array,
  maxChunk = 8,
): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const n = 1 + int(rand, maxChunk);
    chunks.push(bytes.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

/** Every single byte as its own chunk. */
export function byteByByte(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

/** Joins chunks. */
export { concatBytes as concat } from "../../src/_util/concat.ts";

/** Random bytes drawn from an alphabet weighted towards ".", CR and LF. */
export function randomMessage(rand: () => number, length: number): Uint8Array {
  const alphabet = [0x2e, 0x2e, 0x0d, 0x0a, 0x0a, 0x41, 0x42, 0x20, 0x3a];
  return Uint8Array.from(
    { length },
    () => alphabet[int(rand, alphabet.length)],
  );
}
