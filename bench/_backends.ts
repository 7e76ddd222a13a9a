/**
 * The one place where the real-path benchmark imports the library: builds
 * "ours" for a storage kind and a TLS mode, from the package's entry points
 * (`.`, `./maildir`, `./postgres`).
 *
 * Runs under Deno, Bun and Node 24.
 *
 * @module
 */

// ---- the library ------------------------------------------------------------
import { MemoryAuth, MemoryStorage, Pop3d, tlsSocket } from "../mod.ts";
import type { MaildropStore, MessageSource, Pop3dStorage } from "../mod.ts";
import { MaildirStorage, PasswdFileAuth } from "../maildir.ts";
import type { MaildirFs } from "../maildir.ts";
import { createSchema, PostgresAuth, PostgresStorage } from "../postgres.ts";
// The default Maildir file access (node:fs/promises), for counting its calls.
import { nodeFs, type NodeFsOptions } from "../src/runtime/node_fs.ts";
// A dependency-free PostgreSQL wire client (node:net), shared with the tests.
import { PgWirePool } from "../tests/_helpers/pg_wire.ts";
// ---------------------------------------------------------------------------

import { join } from "node:path";
import { loadMaildir } from "./_maildir.ts";

/** Where the messages come from. */
export type StorageKind = "memory" | "maildir" | "postgres";

/** Every storage kind, in table order. */
export const STORAGE_KINDS: readonly StorageKind[] = [
  "memory",
  "maildir",
  "postgres",
];

/** What a backend needs to know. */
export interface BackendOptions {
  /** Storage kind. */
  storage: StorageKind;
  /**
   * Mail root: `<mail>/<user>/Maildir` for every user (a copy of the
   * Dovecot peer's `mail/`); memory loads `alice` and `big` from it.
   */
  mail: string;
  /** passwd-file with `{PLAIN}` passwords (maildir). */
  passwd: string;
  /** Users `alice1..aliceN` besides `alice` and `big` (memory). */
  users: number;
  /** `postgres://` URL (postgres). */
  pgUrl: string;
}

/** A storage + auth pair and how to release it. */
export interface Backend {
  // deno-lint-ignore no-explicit-any
  storage: Pop3dStorage<any> | MaildropStore<any>;
  // deno-lint-ignore no-explicit-any
  auth: any;
  close(): Promise<void>;
}

/**
 * The memory case of `serve_memory.ts`: every `alice*` user reads one stored
 * copy (maildrop `alice`), `big` reads `big`; no exclusive lock (Dovecot's
 * `pop3_lock_session = no`); read-only.
 */
export class SharedMaildrops implements Pop3dStorage<string> {
  #store: MemoryStorage;
  /** @param store Holds maildrops `alice` and `big`. */
  constructor(store: MemoryStorage) {
    this.#store = store;
  }
  #drop(user: string): string {
    return user === "big" ? "big" : "alice";
  }
  lock(): boolean {
    return true;
  }
  unlock(): void {}
  stat(user: string): number {
    return this.#store.stat(this.#drop(user));
  }
  size(user: string, msgId?: number): number {
    return this.#store.size(this.#drop(user), msgId);
  }
  get(user: string, msgId: number): MessageSource {
    return this.#store.get(this.#drop(user), msgId);
  }
  uidl(user: string, msgId: number): string {
    return this.#store.uidl(this.#drop(user), msgId);
  }
  dele(): void {
    throw new Error("The benchmark storage is read-only");
  }
}

/**
 * Builds the storage and auth of one storage kind.
 *
 * @param o Storage kind and where its data lives.
 * @returns The backend.
 * @example
 * ```ts ignore
 * const b = await backend({ storage: "maildir", mail: "/tmp/m", passwd: "/tmp/p", users: 0, pgUrl: "" });
 * ```
 */
// async: a backend may need to open something first (kept for the integrator)
// deno-lint-ignore require-await
export async function backend(o: BackendOptions): Promise<Backend> {
  if (o.storage === "memory") {
    const store = new MemoryStorage();
    for (const drop of ["alice", "big"]) {
      loadMaildir(join(o.mail, drop, "Maildir")).forEach((bytes, i) =>
        store.deliver(drop, bytes, { uid: `${drop}.${i + 1}` })
      );
    }
    const auth = new MemoryAuth();
    auth.addUser("alice", "secret").addUser("big", "secret");
    for (let i = 1; i <= o.users; i++) auth.addUser(`alice${i}`, "secret");
    return {
      storage: new SharedMaildrops(store),
      auth,
      close: () => Promise.resolve(),
    };
  }
  if (o.storage === "maildir") {
    return {
      storage: new MaildirStorage({ root: o.mail }),
      auth: new PasswdFileAuth({ path: o.passwd, mailRoot: o.mail }),
      close: () => Promise.resolve(),
    };
  }
  const db = new PgWirePool(o.pgUrl, { max: 16 });
  const storage = new PostgresStorage(db);
  return {
    storage,
    auth: new PostgresAuth(db),
    async close() {
      await storage.close();
      await db.end();
    },
  };
}

/** How clients reach the server. */
export interface ServerOptions {
  /** Port of plain POP3 with STLS. */
  port: number;
  /** Port of implicit TLS (POP3S); 0 = none. */
  tlsPort: number;
  /** PEM certificate chain and key. */
  cert: string;
  key: string;
  /** Share both ports with other processes (`SO_REUSEPORT`). */
  reusePort?: boolean;
  /** TLS key exchange groups (`TlsOptions.groups`); the runtime's own without. */
  groups?: string;
}

/**
 * Starts ours: plain POP3 offering STLS on `port` and implicit TLS on
 * `tlsPort`, both over the same backend, as Dovecot serves pop3 and pop3s.
 *
 * @param b The backend.
 * @param o Ports and certificate.
 * @returns A function that stops both listeners.
 * @example
 * ```ts ignore
 * const stop = await serve(b, { port: 1110, tlsPort: 1111, cert, key });
 * ```
 */
export async function serve(
  b: Backend,
  o: ServerOptions,
): Promise<() => Promise<void>> {
  const common = {
    hostname: "127.0.0.1",
    auth: b.auth,
    storage: b.storage,
    maxConnections: 100_000,
    maxConnectionsPerAddress: 100_000,
    reusePort: o.reusePort ?? false,
    onError: (error: unknown) => console.error("pop3d error:", error),
  };
  const tls = {
    cert: o.cert,
    key: o.key,
    ...(o.groups ? { groups: o.groups } : {}),
  };
  const servers = [new Pop3d({ ...common, port: o.port, tls })];
  if (o.tlsPort > 0) {
    servers.push(
      new Pop3d({
        ...common,
        port: o.tlsPort,
        socket: tlsSocket(tls),
      }),
    );
  }
  for (const s of servers) await s.up();
  return async () => {
    for (const s of servers) await s.destroy("kill");
  };
}

/**
 * Loads the messages of `alice` and `big` from a peer Maildir into a fresh
 * PostgreSQL schema: user `alice`, `alice1..aliceN` (each its own mailbox,
 * as each has its own Maildir) and `big`, password `secret`. The alice
 * mailboxes are cloned in SQL from the first one.
 *
 * @param url `postgres://` URL.
 * @param mail The peer's `mail/` directory.
 * @param users N.
 * @example
 * ```ts ignore
 * await loadPostgres(url, "/tmp/pop3real/dovecot/mail", 100);
 * ```
 */
export async function loadPostgres(
  url: string,
  mail: string,
  users: number,
): Promise<void> {
  const db = new PgWirePool(url, { max: 2 });
  try {
    await createSchema(db);
    await db.query(
      "TRUNCATE pop3d_leases, pop3d_chunks, pop3d_messages, pop3d_users, pop3d_mailboxes",
    );
    const storage = new PostgresStorage(db);
    const auth = new PostgresAuth(db);
    const first = await auth.addUser("alice", "secret");
    const messages = loadMaildir(join(mail, "alice", "Maildir"));
    for (let i = 0; i < messages.length; i++) {
      await storage.deliver(first, messages[i], { uid: `m${i + 1}` });
    }
    const big = await auth.addUser("big", "secret");
    await storage.deliver(big, loadMaildir(join(mail, "big", "Maildir"))[0], {
      uid: "big1",
    });
    for (let u = 1; u <= users; u++) {
      const box = await auth.addUser(`alice${u}`, "secret");
      await db.query(
        `WITH src AS (
           SELECT id, uid, size FROM pop3d_messages
           WHERE mailbox_id = $2::bigint ORDER BY id),
         m AS (
           INSERT INTO pop3d_messages (mailbox_id, uid, size)
           SELECT $1::bigint, uid, size FROM src ORDER BY id
           RETURNING id, uid)
         INSERT INTO pop3d_chunks (message_id, seq, data)
         SELECT m.id, c.seq, c.data FROM m
         JOIN src ON src.uid = m.uid
         JOIN pop3d_chunks c ON c.message_id = src.id`,
        [box.id, first.id],
      );
    }
    await storage.close();
  } finally {
    await db.end();
  }
}

/** Calls and awaited time per `MaildirFs` method. */
export type FsCalls = Record<string, { calls: number; ms: number }>;

/**
 * Ours over Maildir with the default file access wrapped to count every
 * call and the time each one is awaited.
 *
 * @param mail The mail root.
 * @param passwd The passwd-file.
 * @param fsOptions The default file access's mode (the storage's default:
 *   synchronous metadata).
 * @returns The backend and the live counters.
 * @example
 * ```ts ignore
 * const { backend, calls } = countingMaildir("/tmp/m", "/tmp/p");
 * ```
 */
export function countingMaildir(
  mail: string,
  passwd: string,
  fsOptions: NodeFsOptions = { syncMetadata: true },
): { backend: Backend; calls: FsCalls } {
  const inner = nodeFs(fsOptions);
  const calls: FsCalls = {};
  const fs = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(inner)) {
    fs[name] = (...args: unknown[]) => {
      const c = calls[name] ??= { calls: 0, ms: 0 };
      c.calls++;
      const t0 = performance.now();
      const out = (fn as (...a: unknown[]) => unknown).apply(inner, args);
      if (out instanceof Promise) {
        return out.finally(() => c.ms += performance.now() - t0);
      }
      c.ms += performance.now() - t0;
      return out;
    };
  }
  return {
    backend: {
      storage: new MaildirStorage({
        root: mail,
        fs: fs as unknown as MaildirFs,
      }),
      auth: new PasswdFileAuth({ path: passwd, mailRoot: mail }),
      close: () => Promise.resolve(),
    },
    calls,
  };
}
