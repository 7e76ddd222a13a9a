/**
 * One POP3 session over one connection: the run loop. It reads lines,
 * hands them to the command table (or to a waiting SASL exchange), writes
 * the replies, and ends the session one way, whatever the cause.
 *
 * @module
 */

import { randomHex } from "../_util/random.ts";
import { LineFramer } from "../protocol/line_framer.ts";
import { ok } from "../protocol/reply.ts";
import type { Conn } from "../transport/types.ts";
import {
  type ConnReader,
  directIo,
  directWriter,
} from "../transport/_direct.ts";
import { callNow, callWithTimeout, signalFor } from "./call.ts";
import { runCommand } from "./dispatch.ts";
import type { SessionConfig, SessionObserver } from "./config.ts";
import type { ConnectionState } from "./connection_state.ts";
import type { EndMode, SessionContext } from "./context.ts";
import { Deadlines } from "./deadlines.ts";
import type { CloseReason, LoginMethod, Pop3dEvent } from "./events.ts";
import type { Maildrop } from "./maildrop.ts";
import { FLUSH_AT } from "./message_stream.ts";
import { ReplyWriter } from "./reply_writer.ts";
import { type SaslExchange, saslResponse } from "./sasl_exchange.ts";
import type { SessionState } from "./state.ts";

const encoder = new TextEncoder();

/**
 * The abort reasons of ended sessions, one per close reason: a new `Error`
 * for every session cost 20-30 µs on Node 24 (its stack trace), a tenth of
 * the JavaScript a TLS handshake's session runs.
 */
const ENDED = new Map<CloseReason, Error>();

function endedError(reason: CloseReason): Error {
  let error = ENDED.get(reason);
  if (error === undefined) {
    error = Object.freeze(new Error(`Session ended: ${reason}`));
    ENDED.set(reason, error);
  }
  return error;
}

/**
 * The APOP timestamp of a greeting (RFC 1939 §7): 8 random octets from the
 * CSPRNG (through `randomHex`'s pool: a call per greeting cost ~0.1 ms on
 * Node, a tenth of a TLS handshake), the time and the host.
 *
 * @example
 * ```ts
 * import { timestamp } from "./session.ts";
 * console.assert(/^<[0-9a-f]{16}\.\d+@mx>$/.test(timestamp("mx")));
 * ```
 */
export function timestamp(serverName: string): string {
  // Joined, not a template: a template's result is a chain of
  // concatenations, held for as long as the session.
  return ["<", randomHex(8), ".", String(Date.now()), "@", serverName, ">"]
    .join("");
}

/**
 * Runs one POP3 session on a {@linkcode Conn}: greeting, commands, replies,
 * deadlines, and the lock held between login and the end of the session.
 * Knows nothing of the server: it gets a {@linkcode SessionConfig} and
 * reports to a {@linkcode SessionObserver}.
 *
 * @example Running a session over in-memory streams
 * ```ts ignore
 * const [client, server] = memoryConnPair();
 * const done = new Pop3Session(1, server, config, observer).run();
 * ```
 */
export class Pop3Session<M = unknown> implements SessionContext<M> {
  // The parts see these through SessionContext (context.ts), which documents them.
  readonly id: number;
  readonly remote: string;
  readonly config: SessionConfig<M>;
  readonly observer: SessionObserver;
  readonly out: ReplyWriter;
  readonly timestamp: string;
  state: SessionState = "auth";
  user: string | null = null;
  method: LoginMethod | null = null;
  drop: Maildrop | undefined;
  committed = 0;
  authFailures = 0;
  badCommands = 0;
  utf8 = false;
  language = "en";
  sasl: SaslExchange | undefined;
  #conn: Conn;
  readonly #framer: LineFramer;
  readonly #deadlines: Deadlines;
  readonly #startTime = Date.now();
  readonly #ended = new AbortController();
  #reader: ConnReader | undefined;
  #reason: CloseReason | undefined;
  #cut = false;
  #bytesIn = 0;

  /**
   * @param id Connection id.
   * @param conn The connection.
   * @param config The session's configuration.
   * @param observer Receives events, errors, transcript lines and counts.
   */
  constructor(
    id: number,
    conn: Conn,
    config: SessionConfig<M>,
    observer: SessionObserver,
  ) {
    this.id = id;
    this.#conn = conn;
    this.remote = conn.remoteAddr.hostname;
    this.config = config;
    this.observer = observer;
    this.#framer = new LineFramer(
      Math.max(config.maxLineLength, config.maxAuthLineLength),
    );
    this.out = new ReplyWriter(id, observer, () => this.#deadlines.update());
    this.#deadlines = new Deadlines(
      config as SessionConfig<unknown>,
      this.out,
      () => this.end("timeout", "now"),
    );
    this.timestamp = timestamp(config.serverName);
  }

  /** Calls an auth or storage callback under `callbackTimeout` (see `sessionCallers`). */
  call<T>(
    what: string,
    fn: () => T | Promise<T>,
    late?: (value: T) => void,
  ): Promise<T> {
    return callWithTimeout(
      what,
      this.config.callbackTimeout,
      fn,
      late,
      signalFor(what, this.#ended.signal),
    );
  }

  /** Like `call`, but gives a synchronous callback's value back as it is. */
  callNow<T>(what: string, fn: () => T | Promise<T>): T | Promise<T> {
    return callNow(
      what,
      this.config.callbackTimeout,
      fn,
      signalFor(what, this.#ended.signal),
    );
  }

  /** The connection now (it changes after STLS). */
  get conn(): Conn {
    return this.#conn;
  }

  /** Aborts when the session ends at once. */
  get signal(): AbortSignal {
    return this.#ended.signal;
  }

  /** Whether a close reason is set. */
  get ending(): boolean {
    return this.#reason !== undefined;
  }

  /** A snapshot for `conn.state()`. */
  info(): ConnectionState {
    return {
      id: this.id,
      remoteAddress: this.remote,
      remotePort: this.#conn.remoteAddr.port,
      state: this.state,
      user: this.user,
      method: this.method,
      encrypted: this.#conn.encrypted,
      messageCount: this.drop?.count ?? 0,
      totalSize: this.drop?.total ?? 0,
      deleted: this.drop?.deletedIds() ?? [],
      bytesIn: this.#bytesIn,
      bytesOut: this.out.bytesOut,
      startTime: this.#startTime,
    };
  }

  /**
   * The one way a session ends. The first reason given is the one
   * reported. `"after-reply"` lets the queued replies go out (under the
   * write deadline); `"now"` also stops pending callbacks and cuts the
   * connection. The lock is released when the run loop ends.
   */
  end(reason: CloseReason, mode: EndMode = "after-reply"): void {
    this.#reason ??= reason;
    if (mode === "after-reply" || this.#cut) return;
    this.#cut = true;
    this.#ended.abort(endedError(this.#reason));
    this.#reader?.cancel().catch(() => {});
    // A write without progress or a handshake holds the loop: cut now.
    // Otherwise the loop closes the connection after the unlock, so that a
    // client that reconnects at once finds its maildrop free.
    if (this.out.stalledSince !== 0 || this.#reader === undefined) {
      this.#closeConn();
    }
  }

  #closeConn(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Ends the session now: no UPDATE state, the lock released. */
  kill(reason: CloseReason = "killed"): void {
    this.end(reason, "now");
  }

  /** Sends a one-line reply and closes, for connections refused before a session starts. */
  static async refuse(conn: Conn, line: string): Promise<void> {
    const writer = directWriter(conn) ?? conn.writable.getWriter();
    try {
      await writer.write(encoder.encode(line));
    } catch {
      // The client is gone already.
    } finally {
      conn.close();
    }
  }

  /** Runs the session to its end. Never rejects. */
  async run(): Promise<void> {
    this.emit({
      type: "open",
      id: this.id,
      remote: this.remote,
      encrypted: this.#conn.encrypted,
    });
    try {
      this.#open(this.#conn);
      this.#deadlines.start();
      this.out.send(ok(`${this.config.greeting} ${this.timestamp}`));
      await this.flush();
      while (!this.ending) {
        // The read is awaited here, not in a helper: an idle session then
        // holds one suspended function, not two (its frame, promise and
        // reaction: about 0.4 KiB).
        let line = this.#framer.next();
        while (line === undefined) {
          this.#deadlines.waiting(true);
          let result: ReadableStreamReadResult<Uint8Array>;
          try {
            result = await this.#reader!.read();
          } finally {
            this.#deadlines.waiting(false);
          }
          if (result.done || this.#cut) break;
          this.#received(result.value);
          line = this.#framer.next();
        }
        if (line === undefined) break;
        this.#deadlines.activity();
        if (this.sasl) await saslResponse(this, line);
        else await runCommand(this as SessionContext<unknown>, line);
        if (
          this.ending || !this.#framer.hasLine() || this.out.queued >= FLUSH_AT
        ) {
          // While ending, this is the final flush: the write deadline holds.
          await this.flush();
        }
        // The idle clock starts when the reply is out, not when the command
        // came in: a RETR slower than idleTimeout must not end the session.
        this.#deadlines.activity();
      }
      this.end("client");
    } catch {
      // A read or write failed: the connection is gone. Command errors never
      // get here; they become replies in #command.
      this.end("error");
    } finally {
      // A delete that hangs keeps the lock (it may still be removing files),
      // but not the session: the unlock follows whenever the delete settles.
      await this.release();
      this.#deadlines.stop();
      this.end(this.#reason!, "now");
      this.#closeConn();
      this.#closed();
    }
  }

  #closed(): void {
    if (this.method !== null) {
      const removed = this.drop?.removed ?? this.committed;
      if (removed > this.committed) {
        this.observer.count("messagesDeleted", removed - this.committed);
      }
      this.emit({
        type: "logout",
        id: this.id,
        remote: this.remote,
        user: this.user ?? "",
        deleted: removed,
      });
    }
    this.emit({
      type: "close",
      id: this.id,
      remote: this.remote,
      reason: this.#reason!,
      bytesIn: this.#bytesIn,
      bytesOut: this.out.bytesOut,
      durationMs: Date.now() - this.#startTime,
    });
  }

  /**
   * Takes bytes read from the client. Bytes without a whole command do not
   * reset the idle clock (RFC 1939 §3: a command does), or a client
   * trickling bytes stays forever.
   */
  #received(bytes: Uint8Array): void {
    this.#bytesIn += bytes.length;
    this.observer.count("bytesIn", bytes.length);
    this.#framer.push(bytes);
  }

  /** Reports an event. */
  emit(event: Pop3dEvent): void {
    this.observer.event(event);
  }

  /** Reports a server-side fault. */
  report(error: unknown): void {
    this.observer.error(this.id, error);
  }

  /** Writes out the queued replies. */
  flush(): Promise<void> {
    // Ended at once (kill, timeout): nothing more goes out (RFC 1939 §3).
    return this.#cut ? Promise.resolve() : this.out.flush();
  }

  /** The login deadline is over. */
  loggedIn(): void {
    this.#deadlines.loggedIn();
  }

  /** Releases the lock once, waiting at most `callbackTimeout` for it. */
  release(): Promise<void> {
    return this.drop?.closeWithin(
      this.config.callbackTimeout,
      (error) => this.report(error),
    ) ?? Promise.resolve();
  }

  /**
   * The TLS handshake of STLS. Plaintext pipelined after STLS must never
   * run inside TLS (CVE-2011-0411), so the buffered bytes are dropped. A
   * handshake that fails is the client's doing, not a server fault.
   */
  async upgrade(): Promise<void> {
    this.#framer.clear();
    this.#reader!.releaseLock();
    this.#reader = undefined;
    this.out.detach();
    // The handshake is the client's turn: the deadlines apply to it.
    this.#deadlines.waiting(true);
    let secure: Conn;
    try {
      secure = await this.#conn.startTls!();
    } catch {
      if (this.ending) return; // Timed out or killed.
      this.emit({ type: "tls-failed", id: this.id, remote: this.remote });
      this.end("client", "now");
      return;
    } finally {
      this.#deadlines.waiting(false);
    }
    this.#conn = secure;
    this.#open(secure);
  }

  /**
   * Reads and writes `conn` through its adapter's direct path when it has
   * one (no Web stream is made), else through its streams.
   */
  #open(conn: Conn): void {
    this.#reader = directIo(conn) ?? conn.readable.getReader();
    this.out.attach(directWriter(conn) ?? conn.writable.getWriter());
  }
}
