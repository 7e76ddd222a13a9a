/**
 * Test fixtures: a Pop3d on an in-memory listener, a storage that records
 * every call and can be told to fail, and a client that has read the
 * greeting.
 */

import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import type { Pop3dOptions } from "../../src/server/options.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import type { MessageSource, Pop3dStorage } from "../../src/storage/types.ts";
import {
  type MemoryListener,
  memoryListener,
} from "../../src/transport/memory.ts";
import type { NetAddr } from "../../src/transport/types.ts";
import { Pop3Client, within } from "./pop3_client.ts";

/** How an injected fault behaves. */
export type Fault = "throw" | "reject" | "hang";

/** A storage method name. */
export type StorageMethod =
  | "lock"
  | "unlock"
  | "stat"
  | "size"
  | "get"
  | "dele"
  | "uidl";

/**
 * A {@linkcode Pop3dStorage} over a {@linkcode MemoryStorage} that records
 * each call as text ("lock alice", "dele alice 1,3") and fails on request.
 */
export class RecordingStorage implements Pop3dStorage<string> {
  readonly inner: MemoryStorage;
  readonly calls: string[] = [];
  readonly faults: Partial<Record<StorageMethod, Fault>> = {};
  /** Overrides the result of `lock` when set. */
  lockResult: boolean | undefined;
  /** Overrides `get` when set. */
  source: ((mbox: string, id: number) => MessageSource) | undefined;
  /** Wraps results in Promises (async callbacks) when true. */
  async = false;

  constructor(inner = new MemoryStorage()) {
    this.inner = inner;
  }

  #do<T>(method: StorageMethod, text: string, fn: () => T): T | Promise<T> {
    this.calls.push(text);
    const fault = this.faults[method];
    if (fault === "throw") throw new Error(`Injected ${method} failure`);
    if (fault === "reject") {
      return Promise.reject(new Error(`Injected ${method} rejection`));
    }
    if (fault === "hang") return new Promise<T>(() => {});
    const value = fn();
    return this.async ? Promise.resolve(value) : value;
  }

  count(prefix: string): number {
    return this.calls.filter((c) => c === prefix || c.startsWith(prefix + " "))
      .length;
  }

  lock(mbox: string): boolean | Promise<boolean> {
    return this.#do(
      "lock",
      `lock ${mbox}`,
      () => this.lockResult ?? this.inner.lock(mbox),
    );
  }
  unlock(mbox: string): void | Promise<void> {
    return this.#do("unlock", `unlock ${mbox}`, () => this.inner.unlock(mbox));
  }
  stat(mbox: string): number | Promise<number> {
    return this.#do("stat", `stat ${mbox}`, () => this.inner.stat(mbox));
  }
  size(mbox: string, msgId?: number): number | Promise<number> {
    return this.#do(
      "size",
      msgId === undefined ? `size ${mbox}` : `size ${mbox} ${msgId}`,
      () => this.inner.size(mbox, msgId),
    );
  }
  get(mbox: string, msgId: number): MessageSource | Promise<MessageSource> {
    return this.#do(
      "get",
      `get ${mbox} ${msgId}`,
      () => this.source?.(mbox, msgId) ?? this.inner.get(mbox, msgId),
    );
  }
  dele(mbox: string, msgIds: readonly number[]): void | Promise<void> {
    return this.#do(
      "dele",
      `dele ${mbox} ${msgIds.join(",")}`,
      () => this.inner.dele(mbox, msgIds),
    );
  }
  uidl(mbox: string, msgId: number): string | Promise<string> {
    return this.#do(
      "uidl",
      `uidl ${mbox} ${msgId}`,
      () => this.inner.uidl(mbox, msgId),
    );
  }
}

/** The messages every fixture's "alice" has. */
export const ALICE_MESSAGES: string[] = [
  "From: a@example.test\r\nSubject: one\r\n\r\nHello\r\n",
  "From: b@example.test\r\nSubject: two\r\n\r\n.dot line\r\n..two dots\r\nend\r\n",
  "From: c@example.test\r\nSubject: three\r\n\r\nline 1\r\nline 2\r\nline 3\r\nline 4\r\n",
];

/** A running server on a memory listener, its backends and errors. */
export interface Fixture {
  server: Pop3d<string>;
  listener: MemoryListener;
  auth: MemoryAuth;
  storage: RecordingStorage;
  errors: unknown[];
  /** Connects a client and reads the greeting. */
  connect(remoteAddr?: NetAddr): Promise<Pop3Client>;
  /** Connects, logs in as alice and returns the client. */
  alice(): Promise<Pop3Client>;
  /** Destroys the server ("kill"). */
  close(): Promise<void>;
}

/**
 * Starts a Pop3d on an in-memory listener with MemoryAuth (alice/secret,
 * bob/"pass word") and a RecordingStorage with {@linkcode ALICE_MESSAGES}.
 */
export async function startFixture(
  options: Pop3dOptions<string> = {},
): Promise<Fixture> {
  const auth = new MemoryAuth()
    .addUser("alice", "secret")
    .addUser("bob", "pass word");
  const storage = new RecordingStorage();
  for (const m of ALICE_MESSAGES) storage.inner.deliver("alice", m);
  const errors: unknown[] = [];
  let listener!: MemoryListener;
  const server = new Pop3d<string>({
    auth,
    storage,
    authFailureDelay: 0,
    authPenalty: false,
    onError: (e) => errors.push(e),
    socket: (o) => listener = memoryListener({ port: o.port }),
    ...options,
  });
  await server.up();
  const fixture: Fixture = {
    server,
    get listener() {
      return listener;
    },
    auth,
    storage,
    errors,
    async connect(remoteAddr?: NetAddr) {
      const client = new Pop3Client(listener.connect(remoteAddr));
      await client.greeting();
      return client;
    },
    async alice() {
      const client = await fixture.connect();
      await client.login("alice", "secret");
      return client;
    },
    close: () => within(server.destroy("kill"), 5000, "destroy"),
  };
  return fixture;
}

/** Polls `check` until it is true, or fails after `ms`. */
export async function eventually(
  check: () => boolean,
  what: string,
  ms = 2000,
): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs `fn` with a fresh fixture and always destroys its server. */
export async function withFixture(
  options: Pop3dOptions<string>,
  fn: (fx: Fixture) => Promise<void>,
): Promise<void> {
  const fx = await startFixture(options);
  try {
    await fn(fx);
  } finally {
    await fx.close();
  }
}

/** The bytes of alice's message `n` as stored. */
export function stored(fx: Fixture, n: number): Uint8Array {
  return fx.storage.inner.messages("alice")[n - 1].bytes;
}
