/**
 * Runs N `Pop3d` instances, each in its own process, on one PostgreSQL
 * database. Any instance can serve any mailbox; the lease in
 * `pop3d_leases` makes sure only one session anywhere holds a mailbox.
 *
 *     eval "$(scripts/pg_start.sh)"      # or any server: POP3D_PG_URL=postgres://...
 *     deno run -A examples/cluster.ts --instances 3 --port 1110
 *     # instances listen on 1110, 1111, 1112; user "demo", password "demo"
 *
 * Options: `--instances N` (2), `--port P` (first port; 0 picks free ports),
 * `--hostname H` (127.0.0.1), `--lease-ms MS` (30000), `--url URL`
 * (POP3D_PG_URL), `--driver wire|pg|postgres` (see below).
 *
 * With `--child` it runs one instance and prints one JSON line
 * `{"port":...,"owner":...}` when ready; the tests start it like that.
 *
 * The database client: `wire` is the dependency-free test client in
 * tests/_helpers/pg_wire.ts (trust, cleartext or MD5 auth, no TLS). In
 * production pass a real driver through an adapter, as `--driver pg`
 * (`npm:pg`) and `--driver postgres` (`npm:postgres`) show under Deno.
 */

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Pop3d } from "../mod.ts";
import {
  createSchema,
  fromPg,
  fromPostgresJs,
  type NodePgPool,
  type PgClient,
  PostgresAuth,
  type PostgresJsRootSql,
  PostgresStorage,
} from "../postgres.ts";
import { PgWirePool } from "../tests/_helpers/pg_wire.ts";

const args = process.argv.slice(2);
function flag(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
}

const url = flag("url") ?? process.env.POP3D_PG_URL;
if (!url) {
  console.error("Set POP3D_PG_URL or pass --url (see scripts/pg_start.sh)");
  process.exit(2);
}
const driver = flag("driver") ?? "wire";
const leaseMs = Number(flag("lease-ms") ?? 30_000);
const hostname = flag("hostname") ?? "127.0.0.1";

/** Opens the database with the chosen driver; returns it and a closer. */
async function open(): Promise<[PgClient, () => Promise<void>]> {
  if (driver === "pg") {
    const spec = "npm:pg@8";
    const pg = (await import(spec)).default;
    const pool = new pg.Pool({ connectionString: url, max: 8 });
    return [fromPg(pool as NodePgPool), () => pool.end()];
  }
  if (driver === "postgres") {
    const spec = "npm:postgres@3";
    const postgres = (await import(spec)).default;
    // postgres.js takes a unix socket as `path`, not libpq's `?host=/dir`.
    const dir = new URL(url!).searchParams.get("host");
    const path = dir?.startsWith("/") ? `${dir}/.s.PGSQL.5432` : undefined;
    const sql = postgres(path ? url!.split("?")[0] : url, {
      max: 8,
      onnotice: () => {},
      ...(path ? { path } : {}),
    });
    return [fromPostgresJs(sql as PostgresJsRootSql), () => sql.end()];
  }
  const pool = new PgWirePool(url!, { max: 8 });
  return [pool, () => pool.end()];
}

async function child(): Promise<void> {
  const [db, close] = await open();
  const storage = new PostgresStorage(db, {
    leaseMs,
    owner: flag("owner"),
    onError: (error) => console.error(`lease: ${(error as Error).message}`),
  });
  const server = new Pop3d({
    port: Number(flag("port") ?? 0),
    hostname,
    auth: new PostgresAuth(db),
    storage,
    authFailureDelay: 0,
    authPenalty: false,
    onError: (error) => console.error(`pop3d: ${(error as Error).message}`),
  });
  await server.up();
  console.log(
    JSON.stringify({ port: server.cget("port"), owner: storage.owner }),
  );
  const stop = async () => {
    await server.destroy("kill");
    await storage.close();
    await close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

async function parent(): Promise<void> {
  const [db, close] = await open();
  await createSchema(db);
  const auth = new PostgresAuth(db);
  const demo = await auth.addUser("demo", "demo");
  const storage = new PostgresStorage(db);
  if (
    (await db.query("SELECT 1 FROM pop3d_messages LIMIT 1", [])).rows.length ===
      0
  ) {
    await storage.deliver(
      demo,
      "Subject: Hello from the cluster\r\n\r\nHi\r\n",
    );
  }
  await close();
  const n = Number(flag("instances") ?? 2);
  const base = Number(flag("port") ?? 1110);
  const script = fileURLToPath(import.meta.url);
  const runtime = "Deno" in globalThis
    ? ["run", "-A", script]
    : "Bun" in globalThis
    ? ["run", script]
    : [script];
  const children: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const port = base === 0 ? 0 : base + i;
    const proc = spawn(process.execPath, [
      ...runtime,
      "--child",
      "--url",
      url!,
      "--port",
      String(port),
      "--hostname",
      hostname,
      "--lease-ms",
      String(leaseMs),
      "--driver",
      driver,
      "--owner",
      `instance-${i + 1}`,
    ], { stdio: ["ignore", "pipe", "inherit"] });
    proc.stdout!.on("data", (d: Uint8Array) => {
      const info = JSON.parse(new TextDecoder().decode(d));
      console.log(`instance ${i + 1}: pop3://${hostname}:${info.port}`);
    });
    children.push(proc);
  }
  const stop = () => {
    for (const c of children) c.kill("SIGTERM");
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (args.includes("--child")) await child();
else await parent();
