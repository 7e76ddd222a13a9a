/**
 * Assembles `src/protocol/dot_stuffer.wat` into the bytes that
 * `src/protocol/_dot_stuffer_wasm.ts` carries (base64), with the SHA-256 of
 * the text they came from, which a test checks. Uses wabt from the npm
 * registry; nothing of it ships.
 *
 *     deno run -A --no-lock scripts/build_wasm.ts
 *
 * @module
 */

import wabtInit from "npm:wabt@1.0.39";
import { encodeBase64 } from "../src/_util/base64.ts";
import { toHex } from "../src/_util/hex.ts";

const ROOT = new URL("..", import.meta.url);
const WAT = new URL("src/protocol/dot_stuffer.wat", ROOT);
const OUT = new URL("src/protocol/_dot_stuffer_wasm.ts", ROOT);

const text = await Deno.readTextFile(WAT);
const wabt = await wabtInit();
const module = wabt.parseWat("dot_stuffer.wat", text, {
  simd: true,
  bulk_memory: true,
});
module.validate();
const { buffer } = module.toBinary({});
const sha = toHex(
  new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  ),
);
const base64 = encodeBase64(buffer);
const lines = base64.match(/.{1,72}/g)!.map((l) => `  "${l}"`).join(" +\n");
await Deno.writeTextFile(
  OUT,
  `/**
 * The WebAssembly of \`dot_stuffer.wat\` (${buffer.length} bytes), written by
 * \`scripts/build_wasm.ts\`; do not edit.
 *
 * @module
 */

/** SHA-256 of the \`dot_stuffer.wat\` text these bytes came from. */
export const WAT_SHA256 =
  "${sha}";

/** The module, base64. */
export const WASM_BASE64 =
${lines};
`,
);
console.log(`${buffer.length} bytes, wat sha256 ${sha}`);
