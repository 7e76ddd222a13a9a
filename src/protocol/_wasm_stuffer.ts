/**
 * The WebAssembly half of {@linkcode DotStuffer}: the same encoding with a
 * 16-byte-wide search for line ends, two to three times the rate of the
 * JavaScript loop on long chunks. Compiled on first use from the bytes in
 * `_dot_stuffer_wasm.ts`; where WebAssembly is missing or refused,
 * `wasmStuffer()` returns `undefined` and the JavaScript path serves.
 *
 * @module
 */

import { decodeBase64 } from "../_util/base64.ts";
import { WASM_BASE64 } from "./_dot_stuffer_wasm.ts";

/** The most input octets one call takes (the module's input area). */
export const WASM_CHUNK_MAX = 256 * 1024;
/** Where the module writes its output: after the input and its padding. */
const OUT = WASM_CHUNK_MAX + 64;

/** One call's result: the encoded octets and how many CRs it added. */
export interface WasmEncoded {
  /**
   * The input itself when nothing changed; else a view of `into` when it is
   * large enough, or a fresh copy.
   */
  out: Uint8Array;
  /** CRs inserted (bare LFs made CRLF). */
  crs: number;
}

/** Encodes up to {@linkcode WASM_CHUNK_MAX} octets. */
export type WasmStuffer = (
  chunk: Uint8Array,
  atLineStart: boolean,
  prevCR: boolean,
  into?: Uint8Array,
) => WasmEncoded;

interface Exports {
  memory: WebAssembly.Memory;
  crs: WebAssembly.Global;
  encode(n: number, out: number, atLineStart: number, prevCR: number): number;
}

/** The module, compiled on first use; `null` where WebAssembly cannot run it. */
let compiled: WebAssembly.Module | null | undefined;
/** The shared encoder's instance, made with the module. */
let shared: Exports | undefined;
let loaded: WasmStuffer | null | undefined;

function compile(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      const bytes = decodeBase64(WASM_BASE64)!;
      compiled = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
      // The shared instance now: a runtime without SIMD says no here.
      shared = instantiate(compiled);
    } catch {
      compiled = null; // no WebAssembly, or no SIMD: the JavaScript path serves
    }
  }
  return compiled;
}

function instantiate(module: WebAssembly.Module): Exports {
  return new WebAssembly.Instance(module).exports as unknown as Exports;
}

/**
 * The encoder, or `undefined` where WebAssembly cannot run it.
 *
 * @example
 * ```ts
 * import { wasmStuffer } from "./_wasm_stuffer.ts";
 * const encode = wasmStuffer();
 * const text = new TextEncoder().encode("a\n.b\n");
 * if (encode) {
 *   const { out } = encode(text, true, false);
 *   console.assert(new TextDecoder().decode(out) === "a\r\n..b\r\n");
 * }
 * ```
 */
export function wasmStuffer(): WasmStuffer | undefined {
  if (loaded === undefined) loaded = load();
  return loaded ?? undefined;
}

function load(): WasmStuffer | null {
  if (compile() === null) return null;
  const exports = shared!;
  const memory = new Uint8Array(exports.memory.buffer);
  return (chunk, atLineStart, prevCR, into) => {
    const n = chunk.length;
    memory.set(chunk, 0);
    memory.fill(0, n, n + 16);
    const length = exports.encode(n, OUT, atLineStart ? 1 : 0, prevCR ? 1 : 0);
    let out = chunk;
    if (length !== n) {
      const encoded = memory.subarray(OUT, OUT + length);
      if (into !== undefined && into.length >= length) {
        into.set(encoded);
        out = into.subarray(0, length);
      } else {
        out = encoded.slice();
      }
    }
    return { out, crs: exports.crs.value as number };
  };
}

/** Input octets a {@linkcode StufferBlock} takes per call. */
export const BLOCK_INPUT = 512 * 1024;
/** Where a block's output starts: after its input and the padding. */
const BLOCK_OUT = BLOCK_INPUT + 64;
/**
 * A block's memory in pages: the input, and an output area of at least
 * 1.25 times the input and the 16 octets a store may run past its end (in
 * whole pages, 1.375 times). A chunk whose output needs more (a full chunk
 * with over 37% bare LFs and leading dots) does not fit, and is encoded
 * another way.
 */
const BLOCK_PAGES = Math.ceil((BLOCK_OUT + BLOCK_INPUT * 1.25 + 16) / 65536);
/** Blocks kept for the next message; creating one costs up to 0.4 ms (Bun). */
const POOL_SIZE = 2;
const pool: StufferBlock[] = [];

/**
 * An encoder with memory of its own, for one message at a time: the
 * message's octets are read straight into {@linkcode StufferBlock.input},
 * encoded within the same memory, and written out from there, without the
 * copy into and out of the shared encoder's memory, nor the file stream's
 * copy into a reader's buffer. Get one with {@linkcode stufferBlock}, give
 * it back with {@linkcode releaseBlock} once nothing reads into it and no
 * write holds its output.
 *
 * @example
 * ```ts
 * import { releaseBlock, stufferBlock } from "./_wasm_stuffer.ts";
 * const block = stufferBlock();
 * if (block) {
 *   const n = block.input.length;
 *   block.input.set(new TextEncoder().encode("a\n.b\n"));
 *   const result = block.encode(6, true, false)!;
 *   console.assert(new TextDecoder().decode(result.out) === "a\r\n..b\r\n");
 *   console.assert(n === 512 * 1024);
 *   releaseBlock(block);
 * }
 * ```
 */
export class StufferBlock {
  /** Where the next chunk is read to: {@linkcode BLOCK_INPUT} octets. */
  readonly input: Uint8Array;
  readonly #exports: Exports;
  readonly #memory: Uint8Array;

  /** A new block of `module`. */
  constructor(module: WebAssembly.Module) {
    this.#exports = instantiate(module);
    const memory = this.#exports.memory;
    const pages = memory.buffer.byteLength / 65536;
    if (pages < BLOCK_PAGES) memory.grow(BLOCK_PAGES - pages);
    this.#memory = new Uint8Array(memory.buffer);
    this.input = this.#memory.subarray(0, BLOCK_INPUT);
  }

  /**
   * Encodes the first `n` octets of {@linkcode StufferBlock.input}: the
   * result is a view of the block's memory (valid until the next call), or
   * `undefined` when it would not fit there, the input untouched.
   */
  encode(
    n: number,
    atLineStart: boolean,
    prevCR: boolean,
  ): WasmEncoded | undefined {
    const memory = this.#memory;
    memory.fill(0, n, n + 16);
    let length: number;
    try {
      length = this.#exports.encode(
        n,
        BLOCK_OUT,
        atLineStart ? 1 : 0,
        prevCR ? 1 : 0,
      );
    } catch (error) {
      // A store past the end of the memory: the output did not fit.
      if (error instanceof WebAssembly.RuntimeError) return undefined;
      throw error;
    }
    return {
      out: memory.subarray(BLOCK_OUT, BLOCK_OUT + length),
      crs: this.#exports.crs.value as number,
    };
  }
}

/**
 * A block from the pool or a new one, or `undefined` where WebAssembly
 * cannot run the encoder or the runtime has no memory for another one
 * (V8 refuses new WebAssembly memories after some 16,000 live ones).
 *
 * @example
 * ```ts
 * import { releaseBlock, stufferBlock } from "./_wasm_stuffer.ts";
 * const block = stufferBlock();
 * if (block) releaseBlock(block);
 * ```
 */
export function stufferBlock(): StufferBlock | undefined {
  const reused = pool.pop();
  if (reused !== undefined) return reused;
  const module = compile();
  if (module === null) return undefined;
  try {
    return new StufferBlock(module);
  } catch {
    return undefined;
  }
}

/**
 * Gives a block back for the next message (the pool keeps a few). Only a
 * block that nothing reads into any more and whose output no write holds.
 *
 * @example
 * ```ts
 * import { releaseBlock, stufferBlock } from "./_wasm_stuffer.ts";
 * const block = stufferBlock();
 * if (block) releaseBlock(block);
 * ```
 */
export function releaseBlock(block: StufferBlock): void {
  if (pool.length < POOL_SIZE && !pool.includes(block)) pool.push(block);
}
