// Finds or starts a PostgreSQL server for the tests, and gives each test file
// its own throw-away database.
//
// - POP3D_PG_URL set (CI: `eval "$(scripts/pg_start.sh)"`): use that server.
// - Otherwise run scripts/pg_start.sh (no apt install) and stop the cluster
//   with scripts/pg_stop.sh afterwards.
// - If neither works, `skip` says why and the suites skip.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { PgWireConnection } from "./pg_wire.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A database for one test file. */
export interface TestDatabase {
  /** URL of the fresh database. */
  url: string;
  /** Drops the database and stops a cluster this helper started. */
  stop(): Promise<void>;
}

/** Runs a command; resolves with its stdout, rejects on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on(
      "data",
      (d: Uint8Array) => out += new TextDecoder().decode(d),
    );
    child.stderr!.on(
      "data",
      (d: Uint8Array) => err += new TextDecoder().decode(d),
    );
    child.on("error", reject);
    child.on("close", (code: number | null) => {
      if (code === 0) resolve(out);
      else {reject(
          new Error(`${cmd} exited with ${code}: ${err.trim().slice(-500)}`),
        );}
    });
  });
}

function parseAssignments(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of text.matchAll(/^(?:export )?(\w+)='([^']*)'$/gm)) {
    vars[m[1]] = m[2];
  }
  return vars;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Returns a fresh database on a PostgreSQL server, or `{ skip }` with the
 * reason there is none.
 */
export async function testDatabase(): Promise<TestDatabase | { skip: string }> {
  let url = process.env.POP3D_PG_URL;
  let data: string | undefined;
  if (!url) {
    try {
      const vars = parseAssignments(
        await run("bash", ["scripts/pg_start.sh"], {
          PG_START_NO_INSTALL: "1",
        }),
      );
      url = vars.POP3D_PG_URL;
      data = vars.POP3D_PG_DATA;
    } catch (error) {
      const reason =
        `PostgreSQL tests skipped: POP3D_PG_URL is unset and no server could be started (${
          (error as Error).message.split("\n")[0]
        })`;
      console.warn(reason);
      return { skip: reason };
    }
  }
  const name = `pop3d_test_${Date.now().toString(36)}_${
    Math.floor(Math.random() * 1e9).toString(36)
  }`;
  const admin = await PgWireConnection.connect(url!);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.close();
  const cluster = url!;
  return {
    url: withDatabase(cluster, name),
    async stop() {
      if (data) {
        await run("bash", ["scripts/pg_stop.sh", data]);
        return;
      }
      const conn = await PgWireConnection.connect(cluster);
      await conn.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await conn.close();
    },
  };
}

/**
 * The command that runs a TypeScript file under Deno: the child servers use
 * Deno's transport whichever runtime runs the tests (`deno` must be on PATH
 * under Bun and Node).
 */
export function scriptCommand(
  script: string,
  args: string[],
): [string, string[]] {
  const path = fileURLToPath(new URL(`../../${script}`, import.meta.url));
  const deno = "Deno" in globalThis ? process.execPath : "deno";
  return [deno, ["run", "-A", path, ...args]];
}
