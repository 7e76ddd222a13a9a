/**
 * The WebAssembly of `dot_stuffer.wat` (330 bytes), written by
 * `scripts/build_wasm.ts`; do not edit.
 *
 * @module
 */

/** SHA-256 of the `dot_stuffer.wat` text these bytes came from. */
export const WAT_SHA256 =
  "8678b5e8dd886a3fd5eff80adf1e012f7a4e30cc0c592e2f7f135b51c578eeaf";

/** The module, base64. */
export const WASM_BASE64 =
  "AGFzbQEAAAABCQFgBH9/f38BfwMCAQAFAwEADQYGAX8BQQALBxkDBm1lbW9yeQIAA2NycwMA" +
  "BmVuY29kZQAACogCAYUCAwR/AnsBf0EK/Q8hCCABIQYgAkEALQAAQS5GcQRAIAZBLjoAACAG" +
  "QQFqIQYLIABBAEsEQANAIAT9AAQAIQkgBCAGaiAJ/QsEACAJIAj9I/1kIQcCQANAIAdFDQEg" +
  "BCAHaGohBSAHIAdBAWtxIQcgBQR/IAVBAWstAABBDUcFIANFCwRAIAUgBmpBDToAACAGQQFq" +
  "IQYgBSAGaiAF/QAEAP0LBAAgCkEBaiEKCyAFQQFqIQUgBSAASSAFLQAAQS5GcQRAIAUgBmpB" +
  "LjoAACAGQQFqIQYgBSAGaiAF/QAEAP0LBAALDAALCyAEQRBqIQQgBCAASQ0ACwsgCiQAIAAg" +
  "BmogAWsL";
