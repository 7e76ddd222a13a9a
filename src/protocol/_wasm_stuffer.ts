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

let loaded: WasmStuffer | null | undefined;

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
  let exports: Exports;
  try {
    const bytes = decodeBase64(WASM_BASE64)!;
    const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    exports = new WebAssembly.Instance(module).exports as unknown as Exports;
  } catch {
    return null; // no WebAssembly, or no SIMD: the JavaScript path serves
  }
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
