/**
 * The WebAssembly that ships (`src/protocol/_dot_stuffer_wasm.ts`) was
 * built from the `dot_stuffer.wat` that is committed: the text's SHA-256
 * is the one the build recorded (`deno run -A --no-lock
 * scripts/build_wasm.ts` writes both).
 */

import { it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { toHex } from "../../src/_util/hex.ts";
import { WAT_SHA256 } from "../../src/protocol/_dot_stuffer_wasm.ts";

it("the shipped WebAssembly was built from the committed dot_stuffer.wat", async () => {
  const text = await readFile(
    new URL("../../src/protocol/dot_stuffer.wat", import.meta.url),
    "utf8",
  );
  const sha = toHex(
    new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
    ),
  );
  assert.equal(
    sha,
    WAT_SHA256,
    "run scripts/build_wasm.ts after editing the .wat",
  );
});
