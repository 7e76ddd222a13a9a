/**
 * Serves the Dovecot peer's generated mail from {@linkcode MemoryStorage}
 * with {@linkcode Pop3d}, for the benchmark. Runs unchanged under Deno, Bun
 * and Node 24:
 *
 *     deno run -A bench/serve_memory.ts --port 1110 --mail /tmp/dv/mail --users 1000
 *     bun bench/serve_memory.ts --port 1110 --mail /tmp/dv/mail --users 1000
 *     node bench/serve_memory.ts --port 1110 --mail /tmp/dv/mail --users 1000
 *
 * Users (password `secret`, as in the peer): `alice`, `alice1`..`aliceN` and
 * `big`. Like the peer's Maildirs, which are hard links of one template, all
 * `alice*` users read one stored copy of the messages (maildrop `alice`) and
 * `big` reads maildrop `big`. The peer runs Dovecot with
 * `pop3_lock_session = no`, so this storage lets sessions of one user run
 * side by side too; apart from that it hands every call to MemoryStorage.
 * Prints `READY port=N pid=P` when listening.
 *
 * @module
 */

import process from "node:process";
import { join } from "node:path";
import { MemoryAuth, MemoryStorage, Pop3d } from "../mod.ts";
import { loadMaildir } from "./_maildir.ts";
import { SharedMaildrops } from "./_backends.ts";

function collectGarbage(): void {
  const g = globalThis as {
    gc?: () => void;
    Bun?: { gc(force: boolean): void };
  };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

function option(name: string, fallback?: string): string {
  const argv = process.argv;
  const i = argv.indexOf(`--${name}`);
  if (i !== -1 && i + 1 < argv.length) return argv[i + 1];
  if (fallback === undefined) {
    throw new TypeError(`Option "--${name}" is required`);
  }
  return fallback;
}

const mail = option("mail");
const users = Number(option("users", "0"));
const store = new MemoryStorage();
for (const [drop, user] of [["alice", "alice"], ["big", "big"]]) {
  const messages = loadMaildir(join(mail, user, "Maildir"));
  messages.forEach((bytes, i) =>
    store.deliver(drop, bytes, { uid: `${drop}.${i + 1}` })
  );
}
// Loading leaves ~3 copies of every message as garbage (file, CRLF copy,
// stored copy): 150 MB for the 50 MiB message. Collect it now, or a GC during
// an idle measurement makes the memory per connection come out negative.
// run.ts starts Deno with --v8-flags=--expose-gc and Node with --expose-gc.
collectGarbage();
await new Promise((resolve) => setTimeout(resolve, 500)); // background sweeping
collectGarbage();
const auth = new MemoryAuth();
auth.addUser("alice", "secret").addUser("big", "secret");
for (let i = 1; i <= users; i++) auth.addUser(`alice${i}`, "secret");

const server = new Pop3d({
  hostname: "127.0.0.1",
  port: Number(option("port", "0")),
  auth,
  storage: new SharedMaildrops(store),
  maxConnections: 100_000,
  maxConnectionsPerAddress: 100_000,
  onError: (error) => console.error("pop3d error:", error),
});
await server.up();
console.log(`READY port=${server.cget("port")} pid=${process.pid}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // a clean exit lets `deno run --cpu-prof` write its profile
    server.destroy("kill").finally(() => process.exit(0));
  });
}
