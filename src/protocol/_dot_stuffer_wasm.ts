/**
 * The WebAssembly of `dot_stuffer.wat` (347 bytes), written by
 * `scripts/build_wasm.ts`; do not edit.
 *
 * @module
 */

/** SHA-256 of the `dot_stuffer.wat` text these bytes came from. */
export const WAT_SHA256 =
  "86f0671a7a65364e1055083c96fc0e4d59c1be3f20b7ea0818ecde3172637b6d";

/** The module, base64. */
export const WASM_BASE64 =
  "AGFzbQEAAAABCQFgBH9/f38BfwMCAQAFAwEADQYGAX8BQQALBxkDBm1lbW9yeQIAA2NycwMA" +
  "BmVuY29kZQAACpkCAZYCAwV/AXsBf0EK/Q8hCSABIQcgAkEALQAAQS5GcQRAIAdBLjoAACAH" +
  "QQFqIQcLAkADQCAE/QAEACAJ/SP9ZCEIIAhFBEAgBEEQaiEEIAQgAEkNAQwCCyAEIAhoaiEF" +
  "IAUgAE8NASAFBH8gBUEBay0AAEENRwUgA0ULBEAgByAGIAUgBmv8CgAAIAcgBSAGa2ohByAH" +
  "QQ06AAAgB0EBaiEHIAUhBiAKQQFqIQoLIAVBAWohBCAEIABJIAQtAABBLkZxBEAgByAGIAQg" +
  "Bmv8CgAAIAcgBCAGa2ohByAHQS46AAAgB0EBaiEHIAQhBgsgBCAASQ0ACwsgByAGIAAgBmv8" +
  "CgAAIAcgACAGa2ohByAKJAAgByABaws=";
