/**
 * Test helpers for the hardening tests: an in-memory connection pair with
 * backpressure, a line client over it, an in-memory listener for Pop3d, a
 * counting storage wrapper and a timer tracker. Used until
 * src/transport/memory.ts lands.
 */

import type { Conn, Listener } from "../../src/transport/types.ts";
import type { Pop3dStorage } from "../../src/storage/types.ts";
import { DEFAULTS, type ResolvedOptions } from "../../src/server/options.ts";
import { Pop3Session } from "../../src/session/session.ts";
import { Monitor } from "../../src/server/monitor.ts";
import { sessionConfig } from "../../src/server/session_config.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";

const encoder = new TextEncoder();

/** Options of {@linkcode hardeningPair}. */
export interface PairOptions {
  /** The client's address as the server sees it. */
  remote?: string;
}

/**
 * Two ends of one in-memory connection. Each direction is a TransformStream
 * that buffers one chunk, so a writer waits for its reader like on a socket.
 * `close()` on either end closes both directions: the peer reads EOF after
 * what is queued, and pending or later writes fail.
 */
export function hardeningPair(
  options: PairOptions = {},
): [client: Conn, server: Conn] {
  const remote = options.remote ?? "127.0.0.1";
  const controllers: TransformStreamDefaultController<Uint8Array>[] = [];
  function pipe(): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream<Uint8Array, Uint8Array>(
      {
        start(controller) {
          controllers.push(controller);
        },
      },
      { highWaterMark: 1 },
      { highWaterMark: 0 },
    );
  }
  const up = pipe(); // client -> server
  const down = pipe(); // server -> client
  let closed = false;
  function close(): void {
    if (closed) return;
    closed = true;
    for (const c of controllers) {
      try {
        c.terminate();
      } catch {
        // Already closed or errored.
      }
    }
  }
  const client: Conn = {
    readable: down.readable,
    writable: up.writable,
    remoteAddr: { hostname: "127.0.0.1", port: 110 },
    localAddr: { hostname: remote, port: 40000 },
    encrypted: false,
    close,
  };
  const server: Conn = {
    readable: up.readable,
    writable: down.writable,
    remoteAddr: { hostname: remote, port: 40000 },
    localAddr: { hostname: "127.0.0.1", port: 110 },
    encrypted: false,
    close,
  };
  return [client, server];
}

/** Reads CRLF lines from a connection in the background while the test writes. */
export class LineClient {
  readonly conn: Conn;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #decoder = new TextDecoder();
  #text = "";
  #eof = false;
  #wake: (() => void) | undefined;
  #paused: Promise<void> | undefined;
  #resume: (() => void) | undefined;
  /** Everything received so far, in order. */
  received = "";
  /** Octets received so far. */
  bytes = 0;
  /** Resolves when the server side closed the connection. */
  readonly closed: Promise<void>;

  constructor(conn: Conn) {
    this.conn = conn;
    this.#reader = conn.readable.getReader();
    this.#writer = conn.writable.getWriter();
    this.#writer.closed.catch(() => {});
    this.closed = this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        if (this.#paused) await this.#paused;
        const { done, value } = await this.#reader.read();
        if (done) break;
        this.bytes += value.length;
        if (this.#at && this.bytes >= this.#at.bytes) {
          const { fn } = this.#at;
          this.#at = undefined;
          fn();
        }
        const text = this.#decoder.decode(value, { stream: true });
        this.#text += text;
        this.received += text;
        this.#wake?.();
      }
    } catch {
      // Closed with an error: same as EOF for a client.
    }
    this.#eof = true;
    this.#wake?.();
  }

  async #more(): Promise<boolean> {
    if (this.#eof) return false;
    await new Promise<void>((resolve) => this.#wake = resolve);
    this.#wake = undefined;
    return true;
  }

  #at: { bytes: number; fn: () => void } | undefined;

  /**
   * Calls `fn` from the read loop once `bytes` octets have arrived. In-memory
   * streams move data in microtasks, so a timer-based poll would only run
   * after a whole transfer; this acts at the right moment.
   */
  whenReceived(bytes: number, fn: () => void): void {
    this.#at = { bytes, fn };
  }

  /** Stops reading (after the read in progress), like a client that stalls. */
  pause(): void {
    this.#paused ??= new Promise((resolve) => this.#resume = resolve);
  }

  /** Reads again after {@linkcode pause}. */
  resume(): void {
    this.#resume?.();
    this.#paused = undefined;
  }

  /** Whether the server closed the connection (EOF seen). */
  get eof(): boolean {
    return this.#eof;
  }

  /** Sends text as is (add CRLF yourself). Resolves false if the write failed. */
  async send(text: string | Uint8Array): Promise<boolean> {
    try {
      await this.#writer.write(
        typeof text === "string" ? encoder.encode(text) : text,
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Sends one command line with CRLF and returns the next reply line. */
  async cmd(line: string): Promise<string | null> {
    await this.send(line + "\r\n");
    return await this.line();
  }

  /** The next line without CRLF, or null at EOF. */
  async line(): Promise<string | null> {
    for (;;) {
      const at = this.#text.indexOf("\r\n");
      if (at !== -1) {
        const line = this.#text.slice(0, at);
        this.#text = this.#text.slice(at + 2);
        return line;
      }
      if (!await this.#more()) return null;
    }
  }

  /** The lines of a multi-line block up to (not including) ".". */
  async block(): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line();
      if (line === null) throw new Error("EOF inside a multi-line block");
      if (line === ".") return lines;
      lines.push(line.startsWith(".") ? line.slice(1) : line);
    }
  }

  /** Everything until EOF that was not read as lines yet. */
  async rest(): Promise<string> {
    await this.closed;
    const text = this.#text;
    this.#text = "";
    return text;
  }

  /** Half-closes: the server reads EOF. */
  async end(): Promise<void> {
    try {
      await this.#writer.close();
    } catch {
      // Already closed.
    }
  }

  /** Drops the connection at once, like a client that goes away. */
  drop(): void {
    this.conn.close();
  }
}

/** A Listener fed by the test: `connect()` makes a new in-memory connection. */
export class MemoryListener implements Listener {
  readonly addr = { hostname: "127.0.0.1", port: 110 };
  #queue: Conn[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  /** Connects a client from `remote`; returns the client end. */
  connect(remote = "127.0.0.1"): Conn {
    const [client, server] = hardeningPair({ remote });
    this.#queue.push(server);
    this.#wake?.();
    return client;
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Conn> {
    while (!this.#closed) {
      const conn = this.#queue.shift();
      if (conn) {
        yield conn;
        continue;
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }
}

/** Resolved session options for tests: defaults plus overrides. */
/**
 * A session over `conn` configured from server options, reporting to a
 * monitor built from their hooks (as the server does).
 */
export function newSession<M>(
  id: number,
  conn: Conn,
  options: ResolvedOptions<M>,
): Pop3Session<M> {
  return new Pop3Session<M>(
    id,
    conn,
    sessionConfig(options, () => options.authFailureDelay),
    new Monitor(options),
  );
}

export function sessionOptions<M>(
  overrides: Partial<ResolvedOptions<M>>,
): ResolvedOptions<M> {
  return { ...DEFAULTS, authFailureDelay: 0, ...overrides } as ResolvedOptions<
    M
  >;
}

/** Calls made to a storage, by method name. */
export type CallCounts = Record<string, number>;

/**
 * Wraps a storage and counts calls to each method; `locked` tells how many
 * locks are held (lock calls that returned true minus unlock calls).
 */
export function countingStorage<M>(
  inner: Pop3dStorage<M>,
): { storage: Pop3dStorage<M>; calls: CallCounts; locked: () => number } {
  const calls: CallCounts = {};
  let held = 0;
  const bump = (name: string) => calls[name] = (calls[name] ?? 0) + 1;
  const storage: Pop3dStorage<M> = {
    async lock(mbox) {
      bump("lock");
      const ok = await inner.lock(mbox);
      if (ok === true) held++;
      return ok;
    },
    async unlock(mbox) {
      bump("unlock");
      held--;
      await inner.unlock(mbox);
    },
    stat: (mbox) => (bump("stat"), inner.stat(mbox)),
    size: (mbox, id) => (bump("size"), inner.size(mbox, id)),
    get: (mbox, id) => (bump("get"), inner.get(mbox, id)),
    dele: (mbox, ids) => (bump("dele"), inner.dele(mbox, ids)),
  };
  if (inner.uidl) {
    const uidl = inner.uidl.bind(inner);
    storage.uidl = (mbox, id) => (bump("uidl"), uidl(mbox, id));
  }
  return { storage, calls, locked: () => held };
}

/** Tracks timers created by code under src/ while installed. */
export function trackTimers(): { live: () => string[]; restore: () => void } {
  const g = globalThis as unknown as {
    setTimeout: (fn: () => void, ms?: number) => unknown;
    clearTimeout: (h: unknown) => void;
  };
  const origSet = g.setTimeout;
  const origClear = g.clearTimeout;
  const live = new Map<unknown, string>();
  g.setTimeout = function (fn: () => void, ms?: number) {
    const stack = new Error().stack ?? "";
    const frames = stack.split("\n").slice(2).filter((l) =>
      !l.includes("hardening_pair")
    );
    const fromSrc = frames.length > 0 && /\/src\//.test(frames[0]);
    const handle = origSet(() => {
      live.delete(handle);
      fn();
    }, ms);
    if (fromSrc) live.set(handle, frames[0].trim());
    return handle;
  };
  g.clearTimeout = function (h: unknown) {
    live.delete(h);
    origClear(h);
  };
  return {
    live: () => [...live.values()],
    restore: () => {
      g.setTimeout = origSet;
      g.clearTimeout = origClear;
    },
  };
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the promise's value, or rejects after `ms` milliseconds. */
export function within<T>(
  ms: number,
  promise: Promise<T>,
  what = "operation",
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} did not finish within ${ms} ms`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The password of the fixture user "alice". */
export const PASSWORD = "s3cr3t-Pa55w0rd-7f1d";

/** MemoryAuth with alice and bob, MemoryStorage with three messages each, counted. */
export function fixture(): {
  auth: MemoryAuth;
  memory: MemoryStorage;
  storage: Pop3dStorage<string>;
  calls: CallCounts;
  locked: () => number;
} {
  const auth = new MemoryAuth().addUser("alice", PASSWORD).addUser(
    "bob",
    "bob-pw",
  );
  const memory = new MemoryStorage();
  for (const user of ["alice", "bob"]) {
    for (let i = 1; i <= 3; i++) {
      memory.deliver(
        user,
        `Subject: ${user} ${i}\r\n\r\nBody ${i}\r\n.dotted\r\n`,
      );
    }
  }
  const { storage, calls, locked } = countingStorage(memory);
  return { auth, memory, storage, calls, locked };
}

/** Runs one Pop3Session over an in-memory pair. */
export function startSession<M>(
  overrides: Partial<ResolvedOptions<M>>,
): { client: LineClient; done: Promise<void>; session: Pop3Session<M> } {
  const [c, s] = hardeningPair();
  const session = newSession<M>(1, s, sessionOptions(overrides));
  const done = session.run();
  return { client: new LineClient(c), done, session };
}
