// A real HAProxy with send-proxy-v2 in front of two instances: the client's
// own address (127.0.0.2) reaches the instances' conn.state, events and
// logs instead of HAProxy's; on one PostgreSQL, a second login through the
// other instance gets [IN-USE], and after kill -9 of the holder the other
// serves the mailbox once the lease has lapsed, nothing lost or duplicated.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Pop3d } from "../../src/server/pop3d.ts";
import type { Pop3dEvent } from "../../src/server/events.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import { proxySocket } from "../../src/transport/proxy_socket.ts";
import { createSchema } from "../../src/postgres/schema.ts";
import { PostgresAuth } from "../../src/postgres/postgres_auth.ts";
import { PgWirePool } from "../_helpers/pg_wire.ts";
import { type TestDatabase, testDatabase } from "../_helpers/pg_server.ts";
import { haveHaproxy, startHaproxy } from "./_haproxy.ts";

const CLIENT = fileURLToPath(new URL("./_client_from.py", import.meta.url));
const INSTANCE = fileURLToPath(
  new URL("./_proxy_instance.ts", import.meta.url),
);
const haproxy = await haveHaproxy();
const noHaproxy = haproxy ? false : "haproxy is not installed";

function b64(text: string): string {
  return btoa(text);
}

/** Runs the python client; resolves with its last JSON line. */
function client(
  request: Record<string, unknown>,
  onLine?: (line: Record<string, unknown>) => void,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const p = spawn("python3", [CLIENT, JSON.stringify(request)]);
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      let i;
      while (onLine && (i = out.indexOf("\n")) !== -1) {
        const line = out.slice(0, i);
        out = out.slice(i + 1);
        const parsed = JSON.parse(line);
        if (parsed.holding) onLine(parsed);
        else out = line + "\n" + out, onLine = undefined;
      }
    });
    p.stderr.on("data", (d: Uint8Array) => err += new TextDecoder().decode(d));
    p.on("error", reject);
    p.on("close", (code) => {
      if (code !== 0) return reject(new Error(`python3: ${code} ${err}`));
      const lines = out.trim().split("\n");
      resolve(JSON.parse(lines[lines.length - 1]));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe(
  "HAProxy send-proxy-v2 in front of two Pop3d",
  { skip: noHaproxy },
  () => {
    it("the client's address reaches both instances' conn.state and events, and the second login gets [IN-USE]", async () => {
      const auth = new MemoryAuth().addUser("alice", "pw");
      const storage = new MemoryStorage(); // shared: its lock spans both
      storage.deliver("alice", "Subject: one\r\n\r\nHi\r\n");
      const events: [string, Pop3dEvent][] = [];
      const proxyErrors: string[] = [];
      const instances = ["a", "b"].map((name) =>
        new Pop3d({
          port: 0,
          hostname: "127.0.0.1",
          auth,
          storage,
          authFailureDelay: 0,
          plaintextAuth: "always",
          onEvent: (e) => events.push([name, e]),
          socket: proxySocket(defaultSocket, {
            trusted: ["127.0.0.1/32"],
            onError: (e) => proxyErrors.push(e.message),
          }),
        })
      );
      await Promise.all(instances.map((i) => i.up()));
      const ha = await startHaproxy({
        pop3: instances.map((i) => i.cget("port") as number),
      });
      try {
        let held: ((v: unknown) => void) | undefined;
        const holding = new Promise((r) => held = r);
        const first = client(
          {
            op: "pop3",
            port: ha.ports.pop3,
            user: "alice",
            password: "pw",
            hold: 1.5,
          },
          (l) => held!(l),
        );
        await holding;
        // While the first session is open, one instance shows it.
        const states = instances.flatMap((i) =>
          i.conn.list().map((id) => i.conn.state(id))
        ).filter((s) => s.user === "alice");
        assert.equal(states.length, 1);
        assert.equal(states[0].remoteAddress, "127.0.0.2");
        const second = await client({
          op: "pop3",
          port: ha.ports.pop3,
          user: "alice",
          password: "pw",
        });
        assert.match(String(second.pass), /^-ERR \[IN-USE\]/);
        const done = await first;
        assert.equal(done.messages && (done.messages as string[]).length, 1);
        const logins = events.filter(([, e]) =>
          e.type === "login" || e.type === "login-failed"
        );
        assert.equal(logins.length, 2);
        // Round robin put the two sessions on different instances.
        assert.notEqual(logins[0][0], logins[1][0]);
        for (const [, e] of logins) {
          assert.equal("remote" in e && e.remote, "127.0.0.2");
        }
        // HAProxy's own connections (health checks, LOCAL) are from 127.0.0.1.
        assert.deepEqual(proxyErrors, []);
      } finally {
        await ha.stop();
        await Promise.all(instances.map((i) => i.destroy()));
      }
    });
  },
);

const found = haproxy ? await testDatabase() : { skip: "no haproxy" };
const skip = noHaproxy || ("skip" in found ? found.skip : false);
const LEASE_MS = 1500;

interface Instance {
  owner: string;
  proc: ChildProcess;
  pop3: number;
  lmtp: number;
  lines: Record<string, unknown>[];
  exited: Promise<void>;
}

function startInstance(url: string, owner: string): Promise<Instance> {
  const deno = "Deno" in globalThis ? process.execPath : "deno";
  const proc = spawn(deno, [
    "run",
    "-A",
    INSTANCE,
    "--url",
    url,
    "--owner",
    owner,
    "--lease-ms",
    String(LEASE_MS),
  ], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: Record<string, unknown>[] = [];
  let buffer = "";
  let err = "";
  proc.stderr!.on(
    "data",
    (d: Uint8Array) => err += new TextDecoder().decode(d),
  );
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  return new Promise((resolve, reject) => {
    proc.stdout!.on("data", (d: Uint8Array) => {
      buffer += new TextDecoder().decode(d);
      let i;
      while ((i = buffer.indexOf("\n")) !== -1) {
        const line = JSON.parse(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
        if (line.pop3) {
          resolve({
            owner,
            proc,
            pop3: line.pop3,
            lmtp: line.lmtp,
            lines,
            exited,
          });
        } else lines.push(line);
      }
    });
    proc.on(
      "exit",
      (code) => reject(new Error(`${owner} exited ${code}: ${err}`)),
    );
  });
}

describe(
  "HAProxy in front of two processes on one PostgreSQL",
  { skip },
  () => {
    let db: PgWirePool;
    const procs: Instance[] = [];
    before(async () => {
      db = new PgWirePool((found as TestDatabase).url, { max: 2 });
      await createSchema(db);
      await new PostgresAuth(db).addUser("alice", "pw");
    });
    after(async () => {
      for (const p of procs) {
        p.proc.kill("SIGKILL");
        await p.exited;
      }
      await db?.end();
      await (found as TestDatabase).stop?.();
    });

    it("mail in over LMTP and out over POP3 through HAProxy; [IN-USE] across instances; takeover after kill -9 loses nothing", async () => {
      const url = (found as TestDatabase).url;
      procs.push(
        await startInstance(url, "one"),
        await startInstance(url, "two"),
      );
      const ha = await startHaproxy({
        pop3: procs.map((p) => p.pop3),
        lmtp: procs.map((p) => p.lmtp),
      });
      try {
        const messages = [1, 2, 3].map((n) =>
          `Subject: ${n}\r\n\r\n.dot ${n}\r\nbody ${n}\r\n`
        );
        for (const m of messages) {
          const sent = await client({
            op: "lmtp",
            port: ha.ports.lmtp,
            from: "s@example.org",
            to: ["alice@example.org"],
            message: b64(m),
          });
          assert.deepEqual(sent.refused, {});
        }
        const deliveries = procs.flatMap((p) =>
          p.lines.filter((l) => l.event === "delivery")
        );
        assert.equal(deliveries.length, 3);
        for (const d of deliveries) assert.equal(d.remote, "127.0.0.2");

        let held: ((v: unknown) => void) | undefined;
        const holding = new Promise((r) => held = r);
        const holder = client(
          {
            op: "pop3",
            port: ha.ports.pop3,
            user: "alice",
            password: "pw",
            hold: 4,
          },
          (l) => held!(l),
        );
        await holding;
        const owner = procs.find((p) =>
          p.lines.some((l) => l.event === "login" && l.remote === "127.0.0.2")
        )!;
        const other = await client({
          op: "pop3",
          port: ha.ports.pop3,
          user: "alice",
          password: "pw",
        });
        assert.match(String(other.pass), /^-ERR \[IN-USE\]/);
        const refusedOn = procs.find((p) =>
          p.lines.some((l) => l.event === "login-failed")
        )!;
        assert.notEqual(refusedOn.owner, owner.owner);
        assert.equal(
          refusedOn.lines.find((l) => l.event === "login-failed")!.remote,
          "127.0.0.2",
        );

        const killedAt = performance.now();
        owner.proc.kill("SIGKILL");
        await owner.exited;
        let served: Record<string, unknown> | undefined;
        for (let i = 0; i < 100 && !served; i++) {
          const r = await client({
            op: "pop3",
            port: ha.ports.pop3,
            user: "alice",
            password: "pw",
            dele: true,
          });
          if (String(r.pass).startsWith("+OK")) served = r;
          else await sleep(100);
        }
        const takeoverMs = performance.now() - killedAt;
        assert.ok(served, "the survivor never served the mailbox");
        // The holder's connection died with its instance.
        const result = await holder;
        assert.ok(result.error, JSON.stringify(result));
        assert.deepEqual(
          (served.messages as string[]).map((m) => atob(m)),
          messages,
        );
        const { rows } = await db.query(
          "SELECT count(*) AS n FROM pop3d_messages",
          [],
        );
        assert.equal(Number(rows[0].n), 0);
        console.log(
          `takeover after kill -9: ${
            Math.round(takeoverMs)
          } ms (lease ${LEASE_MS} ms)`,
        );
      } finally {
        await ha.stop();
      }
    });
  },
);
