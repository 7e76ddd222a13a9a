// One cluster instance for the HAProxy tests and bench/lmtp_rate.ts: Pop3d
// and Lmtpd on PostgreSQL (--url) or Maildir (--maildir DIR), both behind
// proxySocket. Prints {"pop3":port,"lmtp":port,"owner":...} first, then one
// JSON line per login, failed login and delivery, with the client address.
import process from "node:process";
import { Lmtpd } from "../../src/lmtp/lmtpd.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { PostgresAuth } from "../../src/postgres/postgres_auth.ts";
import { PostgresStorage } from "../../src/postgres/postgres_storage.ts";
import { MaildirDeliver } from "../../src/maildir/maildir_deliver.ts";
import { MaildirStorage } from "../../src/maildir/maildir_storage.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import { proxySocket } from "../../src/transport/proxy_socket.ts";
import type { SocketFactory } from "../../src/transport/types.ts";
import { PgWirePool } from "../_helpers/pg_wire.ts";

const args = process.argv.slice(2);
function flag(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
}
const owner = flag("owner") ?? "instance";
const trusted = (flag("trusted") ?? "127.0.0.1/32").split(",");
const direct = args.includes("--direct"); // no PROXY protocol
const socket: SocketFactory = direct ? defaultSocket : proxySocket(
  defaultSocket,
  {
    trusted,
    onError: (e) => console.error(`${owner}: ${e.message}`),
  },
);
const say = (o: Record<string, unknown>) =>
  console.log(JSON.stringify({ owner, ...o }));
const quiet = args.includes("--quiet");

// deno-lint-ignore no-explicit-any
let auth: any;
// deno-lint-ignore no-explicit-any
let storage: any;
// deno-lint-ignore no-explicit-any
let target: any;
let close = async () => {};
const url = flag("url");
const maildir = flag("maildir");
if (url) {
  const db = new PgWirePool(url, { max: Number(flag("pool") ?? 8) });
  auth = new PostgresAuth(db);
  storage = new PostgresStorage(db, {
    leaseMs: Number(flag("lease-ms") ?? 30_000),
    owner,
    onError: (e) => console.error(`${owner} lease: ${(e as Error).message}`),
  });
  target = storage;
  close = async () => {
    await storage.close();
    await db.end();
  };
} else if (maildir) {
  const users = Number(flag("users") ?? 10);
  auth = new MemoryAuth();
  for (let i = 0; i < users; i++) auth.addUser(`user${i}`, "pw");
  storage = new MaildirStorage({ root: maildir });
  target = new MaildirDeliver({
    root: maildir,
    fsync: !args.includes("--no-fsync"),
  });
} else {
  throw new Error("Pass --url or --maildir");
}

const pop3 = new Pop3d({
  port: 0,
  hostname: "127.0.0.1",
  auth,
  storage,
  socket,
  authFailureDelay: 0,
  plaintextAuth: "always",
  maxConnectionsPerAddress: 10_000,
  onError: (e) => console.error(`${owner} pop3d: ${(e as Error).message}`),
  onEvent: quiet ? null : (e) => {
    if (e.type === "login" || e.type === "login-failed") {
      say({ event: e.type, remote: e.remote, user: e.user });
    }
  },
});
const lmtp = new Lmtpd({
  port: 0,
  auth,
  storage: target,
  socket,
  maxConnections: 1000,
  onError: (e) => console.error(`${owner} lmtpd: ${(e as Error).message}`),
  onEvent: quiet ? null : (e) => {
    if (e.type === "delivery") {
      say({
        event: e.type,
        remote: e.remote,
        user: e.user,
        outcome: e.outcome,
      });
    }
  },
});
await Promise.all([pop3.up(), lmtp.up()]);
say({ pop3: pop3.cget("port"), lmtp: lmtp.port });
const stop = async () => {
  await Promise.all([pop3.destroy("kill"), lmtp.destroy("kill")]);
  await close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
