/**
 * Ours on the real path, for `bench/real_path.ts` and
 * `bench/large_maildrop.ts`: Pop3d over memory, Maildir or PostgreSQL,
 * plain POP3 with STLS on `--port` and implicit TLS on `--tls-port`. Runs
 * unchanged under Deno, Bun and Node 24:
 *
 *     deno run -A bench/serve_real.ts --storage maildir --mail DIR --passwd FILE \
 *       --cert cert.pem --key key.pem --port 1110 --tls-port 1111
 *     bun bench/serve_real.ts ...    node bench/serve_real.ts ...
 *
 * `--storage postgres` needs `--pg-url` (the data loaded by
 * `loadPostgres` in `_backends.ts`); `--storage memory` loads `alice` and
 * `big` from `--mail` and adds `alice1..aliceN` with `--users N`.
 * `--groups LIST` sets the TLS key exchange groups. Prints
 * `READY port=N pid=P` when listening.
 *
 * @module
 */

import process from "node:process";
import { readFileSync } from "node:fs";
import { backend, serve, type StorageKind } from "./_backends.ts";

function option(name: string, fallback?: string): string {
  const argv = process.argv;
  const i = argv.indexOf(`--${name}`);
  if (i !== -1 && i + 1 < argv.length) return argv[i + 1];
  if (fallback === undefined) {
    throw new TypeError(`Option "--${name}" is required`);
  }
  return fallback;
}

function collectGarbage(): void {
  const g = globalThis as {
    gc?: () => void;
    Bun?: { gc(force: boolean): void };
  };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

const kind = option("storage") as StorageKind;
if (!["memory", "maildir", "postgres"].includes(kind)) {
  throw new TypeError(
    `Option "--storage" must be memory, maildir or postgres, got "${kind}"`,
  );
}
const b = await backend({
  storage: kind,
  mail: option("mail", ""),
  passwd: option("passwd", ""),
  users: Number(option("users", "0")),
  pgUrl: option("pg-url", ""),
});
// loading garbage (memory: ~150 MB for the 50 MiB message) would otherwise
// be collected during an idle-memory measurement
collectGarbage();
await new Promise((resolve) => setTimeout(resolve, 300));
collectGarbage();
const stop = await serve(b, {
  port: Number(option("port")),
  tlsPort: Number(option("tls-port", "0")),
  cert: readFileSync(option("cert"), "utf8"),
  key: readFileSync(option("key"), "utf8"),
  reusePort: process.argv.includes("--reuse-port"),
  groups: option("groups", "") || undefined,
});
console.log(`READY port=${option("port")} pid=${process.pid}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // a clean exit lets `deno run --cpu-prof` write its profile
    stop().then(() => b.close()).finally(() => process.exit(0));
  });
}
