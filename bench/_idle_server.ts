/**
 * The server half of `bench/idle_memory.ts`: {@linkcode Pop3d} with users
 * `u1`..`uN` (password `secret`, one small message each) over
 * {@linkcode MemoryStorage} or {@linkcode MaildirStorage}, on whatever
 * runtime runs it (Deno, Bun, Node 24). Prints `READY port=N` when
 * listening, then answers commands on stdin, one per line:
 *
 * - `mem`: collects garbage (twice, with a pause for background sweeping)
 *   and prints `MEM {"rss":…,"heap":…,"external":…}` (bytes).
 * - `snap PATH`: collects garbage and writes a V8 heap snapshot to PATH
 *   (Deno, Node; Bun writes its own format), then prints `SNAP PATH`.
 *
 *     deno run -A --v8-flags=--expose-gc bench/_idle_server.ts --users 5000
 *
 * @module
 */

import process from "node:process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { MaildirStorage, MemoryAuth, MemoryStorage, Pop3d } from "../mod.ts";
import type { Pop3dStorage } from "../mod.ts";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && i + 1 < process.argv.length
    ? process.argv[i + 1]
    : fallback;
}

const host = globalThis as {
  gc?: () => void;
  Bun?: {
    gc(force: boolean): void;
    generateHeapSnapshot(format?: string): unknown;
  };
};

function collect(): void {
  if (host.Bun) host.Bun.gc(true);
  else if (host.gc) host.gc();
  else {throw new Error(
      "Run with --expose-gc (Node) or --v8-flags=--expose-gc (Deno)",
    );}
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

const users = Number(option("users", "1000"));
const maildirRoot = option("maildir", "");
const message = "From: a@example.org\r\nSubject: idle\r\n\r\nHello\r\n";
let storage: Pop3dStorage<string>;
if (maildirRoot) {
  for (let i = 1; i <= users; i++) {
    const dir = join(maildirRoot, `u${i}`);
    for (const sub of ["cur", "new", "tmp"]) {
      mkdirSync(join(dir, sub), { recursive: true });
    }
    writeFileSync(join(dir, "cur", `1700000000.M1P1.idle:2,`), message);
  }
  storage = new MaildirStorage({ root: maildirRoot });
} else {
  const memory = new MemoryStorage();
  for (let i = 1; i <= users; i++) memory.deliver(`u${i}`, message);
  storage = memory;
}
const auth = new MemoryAuth();
for (let i = 1; i <= users; i++) auth.addUser(`u${i}`, "secret");

const server = new Pop3d({
  hostname: "127.0.0.1",
  port: 0,
  auth,
  storage,
  maxConnections: 100_000,
  maxConnectionsPerAddress: 100_000,
  onError: (error) => console.error("pop3d error:", error),
});
await server.up();
console.log(`READY port=${server.cget("port")}`);

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const [command, arg] = line.trim().split(" ");
  if (command === "mem") {
    await settle();
    const m = process.memoryUsage();
    console.log(
      `MEM ${
        JSON.stringify({
          rss: m.rss,
          heap: m.heapUsed,
          external: m.external,
        })
      }`,
    );
  } else if (command === "snap") {
    await settle();
    if (host.Bun) {
      writeFileSync(arg, JSON.stringify(host.Bun.generateHeapSnapshot()));
    } else {
      const v8 = await import("node:v8");
      v8.writeHeapSnapshot(arg);
    }
    console.log(`SNAP ${arg}`);
  } else if (command === "quit") {
    lines.close();
    await server.destroy("kill");
    process.exit(0);
  }
});
