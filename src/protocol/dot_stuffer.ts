/**
 * The multi-line encoder of RFC 1939 §3: CRLF line ends, dot-stuffing and
 * the `.` terminator, across chunk boundaries.
 *
 * @module
 */

import { concatBytes } from "../_util/concat.ts";
import {
  type StufferBlock,
  WASM_CHUNK_MAX,
  type WasmStuffer,
  wasmStuffer,
} from "./_wasm_stuffer.ts";

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const TERMINATOR = new Uint8Array([DOT, CR, LF]);
const LF_TERMINATOR = new Uint8Array([LF, DOT, CR, LF]);
const CRLF_TERMINATOR = new Uint8Array([CR, LF, DOT, CR, LF]);
const NO_WORDS = new Int32Array(0);

/**
 * Chunks of at least this many octets go through WebAssembly, where it
 * runs; shorter ones cost less in JavaScript than the copies in and out.
 */
const WASM_MIN = 1024;

/** Chunks shorter than this are scanned byte by byte. */
const WORD_SCAN_MIN = 64;

/**
 * Whether a 32-bit word holds an LF byte: XOR turns LF bytes into zero
 * bytes, and `(x - 0x01...) & ~x & 0x80...` is non-zero exactly when `x`
 * has a zero byte. Byte order does not matter.
 */
function hasLf(word: number): boolean {
  const x = word ^ 0x0a0a0a0a;
  return ((x - 0x01010101) & ~x & 0x80808080) !== 0;
}

/**
 * Finds LF bytes four at a time. `Uint8Array#indexOf` called once per line
 * costs more than the scan itself on lines of ~80 octets; reading the
 * aligned part of the chunk as 32-bit words skips the LF-free words with a
 * few integer operations each, and only a word that holds an LF is looked
 * at byte by byte.
 */
class LfScanner {
  readonly #bytes: Uint8Array;
  readonly #words: Int32Array;
  /** Index in `#bytes` of `#words[0]`; `#words` ends at `#wordsEnd`. */
  readonly #head: number;
  readonly #wordsEnd: number;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    const head = (4 - (bytes.byteOffset & 3)) & 3;
    const count = bytes.length >= WORD_SCAN_MIN
      ? (bytes.length - head) >>> 2
      : 0;
    this.#words = count === 0
      ? NO_WORDS
      : new Int32Array(bytes.buffer, bytes.byteOffset + head, count);
    this.#head = head;
    this.#wordsEnd = head + 4 * count;
  }

  /** Index of the first LF at or after `from`, or -1. */
  next(from: number): number {
    const bytes = this.#bytes;
    const words = this.#words;
    const head = this.#head;
    const n = bytes.length;
    let i = from;
    while (i < n) {
      if (i < head || i >= this.#wordsEnd || ((i - head) & 3) !== 0) {
        // Outside the words or inside one: a byte at a time.
        if (bytes[i] === LF) return i;
        i++;
        continue;
      }
      let w = (i - head) >>> 2;
      while (w < words.length && !hasLf(words[w])) w++;
      // The word with an LF, or the bytes after the last word.
      i = head + 4 * w;
      for (const end = Math.min(i + 4, n); i < end; i++) {
        if (bytes[i] === LF) return i;
      }
    }
    return -1;
  }
}

/**
 * Encodes a message body for a multi-line reply, one chunk at a time: a
 * line that starts with `.` gets another `.` in front, a bare LF becomes
 * CRLF, and {@linkcode DotStuffer.end} returns the terminator (after a CRLF
 * when the body does not end in one). Chunks without any change pass through
 * without a copy.
 *
 * @example
 * ```ts
 * import { DotStuffer } from "./dot_stuffer.ts";
 * const te = new TextEncoder(), td = new TextDecoder();
 * const s = new DotStuffer();
 * const out = td.decode(s.encode(te.encode("a\n.b\n"))) + td.decode(s.end());
 * console.assert(out === "a\r\n..b\r\n.\r\n");
 * ```
 */
export class DotStuffer {
  #atLineStart = true;
  #prevCR = false;
  #octets = 0;

  /** Octets of message content seen so far, counting each line end as CRLF. */
  get octets(): number {
    return this.#octets;
  }

  /** Whether the bytes so far end with a line end (or there are none). */
  get atLineStart(): boolean {
    return this.#atLineStart;
  }

  /**
   * Encodes one chunk; the result may be the chunk itself.
   *
   * @param chunk Message octets.
   * @param into Where the result may go instead of a fresh buffer, when it
   * fits: a caller that writes the result out before the next call can pass
   * the same buffer each time and allocate nothing per chunk.
   */
  encode(chunk: Uint8Array, into?: Uint8Array): Uint8Array {
    const n = chunk.length;
    if (n === 0) return chunk;
    if (n >= WASM_MIN) {
      const wasm = wasmStuffer();
      if (wasm) return this.#encodeWasm(wasm, chunk, into);
    }
    // Indexes of the bytes that get a byte inserted before them: a CR before
    // a bare LF, a dot before a dot that starts a line.
    let inserts: number[] | undefined;
    let crs = 0;
    if (this.#atLineStart && chunk[0] === DOT) inserts = [0];
    const scanner = new LfScanner(chunk);
    for (let lf = scanner.next(0); lf !== -1; lf = scanner.next(lf + 1)) {
      if (lf > 0 ? chunk[lf - 1] !== CR : !this.#prevCR) {
        (inserts ??= []).push(lf);
        crs++;
      }
      if (lf + 1 < n && chunk[lf + 1] === DOT) (inserts ??= []).push(lf + 1);
    }
    this.#atLineStart = chunk[n - 1] === LF;
    this.#prevCR = chunk[n - 1] === CR;
    this.#octets += n + crs;
    return inserts === undefined ? chunk : insertBytes(chunk, inserts);
  }

  /**
   * Encodes the first `n` octets of a block's input, as
   * {@linkcode DotStuffer.encode} would: the result is a view of the
   * block's memory, or a buffer of its own when it did not fit there, never
   * a view of the input (which the caller may read the next chunk into
   * while this one is being written).
   *
   * @param block Where the octets were read to (`_wasm_stuffer.ts`).
   * @param n How many octets of its input to encode.
   */
  encodeBlock(block: StufferBlock, n: number): Uint8Array {
    const chunk = block.input.subarray(0, n);
    const result = n === 0
      ? undefined
      : block.encode(n, this.#atLineStart, this.#prevCR);
    if (result === undefined) {
      const out = this.encode(chunk);
      return out === chunk ? out.slice() : out;
    }
    this.#atLineStart = chunk[n - 1] === LF;
    this.#prevCR = chunk[n - 1] === CR;
    this.#octets += n + result.crs;
    return result.out;
  }

  /**
   * The WebAssembly path: the same result, in slices of the module's size.
   * With `into`, the slices' results are laid one after the other there
   * for as long as they fit (an unchanged slice is copied to its place only
   * when another slice changed).
   */
  #encodeWasm(
    wasm: WasmStuffer,
    chunk: Uint8Array,
    into: Uint8Array | undefined,
  ): Uint8Array {
    const n = chunk.length;
    const parts: Uint8Array[] = [];
    let changed = false;
    let used = 0; // octets of `into` holding results, while all fit
    const unchanged: [slice: Uint8Array, at: number][] = [];
    for (let at = 0; at < n; at += WASM_CHUNK_MAX) {
      const slice = chunk.subarray(at, Math.min(n, at + WASM_CHUNK_MAX));
      const target = into?.subarray(used);
      const { out, crs } = wasm(slice, this.#atLineStart, this.#prevCR, target);
      this.#atLineStart = slice[slice.length - 1] === LF;
      this.#prevCR = slice[slice.length - 1] === CR;
      this.#octets += slice.length + crs;
      changed ||= out !== slice;
      parts.push(out);
      if (target === undefined) continue;
      const fits = out === slice
        ? out.length <= target.length // copied there at the end
        : out.buffer === target.buffer; // encoded there
      if (!fits) into = undefined;
      else if (out === slice) unchanged.push([out, used]);
      used += out.length;
    }
    if (!changed) return chunk;
    if (into !== undefined) {
      for (const [slice, at] of unchanged) into.set(slice, at);
      return into.subarray(0, used);
    }
    return parts.length === 1 ? parts[0] : concatBytes(parts);
  }

  /** Returns the terminator, preceded by a line end if the body lacks one. */
  end(): Uint8Array {
    if (this.#atLineStart) return TERMINATOR;
    return this.#prevCR ? LF_TERMINATOR : CRLF_TERMINATOR;
  }
}

/**
 * Copies `chunk` with a CR inserted before each listed LF and a dot before
 * each listed dot. The chunk is copied whole, then, from the last insertion
 * back to the first, the bytes from each insertion point on are moved right
 * by the number of insertions up to there (`copyWithin`: no view per line;
 * 1.4-2.6x the rate of copying line by line with `subarray` and `set`).
 */
function insertBytes(chunk: Uint8Array, at: readonly number[]): Uint8Array {
  const out = new Uint8Array(chunk.length + at.length);
  out.set(chunk);
  let end = chunk.length;
  for (let j = at.length - 1; j >= 0; j--) {
    const i = at[j];
    // chunk[i..end) moves to out[i + j + 1..); the inserted byte goes before it.
    out.copyWithin(i + j + 1, i, end);
    out[i + j] = chunk[i] === LF ? CR : DOT;
    end = i;
  }
  return out;
}
