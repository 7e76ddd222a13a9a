/**
 * `reusePort` on Deno: with `--unstable-net` two listeners share the port
 * through `Deno.listen` itself; without it (where asking `Deno.listen`
 * would end the process) through `node:net`. Runs Deno in a child process
 * with and without the flag, from any runtime that finds `deno`.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { available, run } from "../_helpers/tls.ts";

const haveDeno = await available("deno", ["--version"]);
const DEFAULT_SOCKET = new URL(
  "../../src/transport/default_socket.ts",
  import.meta.url,
).href;

/** Two listeners on one port, a greeting read through each of them. */
const SCRIPT = `
import { defaultSocket } from ${JSON.stringify(DEFAULT_SOCKET)};
import { connect } from "node:net";
let denoListens = 0;
const listen = Deno.listen;
Deno.listen = (options) => { denoListens++; return listen(options); };
const first = await defaultSocket({ hostname: "127.0.0.1", port: 0, reusePort: true });
const port = first.addr.port;
const second = await defaultSocket({ hostname: "127.0.0.1", port, reusePort: true });
const served = new Set();
for (const [i, listener] of [first, second].entries()) {
  (async () => {
    for await (const conn of listener) {
      const writer = conn.writable.getWriter();
      await writer.write(new TextEncoder().encode("listener " + i + "\\n"));
      writer.releaseLock();
      conn.close();
    }
  })();
}
for (let k = 0; k < 40 && served.size < 2; k++) {
  served.add(await new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let text = "";
    s.on("data", (b) => {
      text += b;
      if (text.endsWith("\\n")) {
        s.destroy();
        resolve(text.trim());
      }
    });
    s.on("error", reject);
  }));
}
first.close();
second.close();
console.log(JSON.stringify({ denoListens, served: [...served].sort() }));
Deno.exit(0);
`;

async function shareOnePort(flags: string[]) {
  const result = await run(
    "deno",
    ["run", "-A", "--no-lock", ...flags, "-"],
    SCRIPT,
    60_000,
  );
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(new TextDecoder().decode(result.stdout).trim()) as {
    denoListens: number;
    served: string[];
  };
}

describe(
  "reusePort on Deno",
  { skip: !haveDeno && "deno is not installed" },
  () => {
    it("uses Deno.listen for a shared port under --unstable-net", async () => {
      const got = await shareOnePort(["--unstable-net"]);
      assert.equal(got.denoListens, 2);
      assert.deepEqual(got.served, ["listener 0", "listener 1"]);
    });

    it("falls back to node:net without --unstable-net, and still shares the port", async () => {
      const got = await shareOnePort([]);
      assert.equal(got.denoListens, 0);
      assert.deepEqual(got.served, ["listener 0", "listener 1"]);
    });
  },
);
