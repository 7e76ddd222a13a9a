/**
 * One POP3 session over one connection: the run loop. It reads lines,
 * hands them to the command table (or to a waiting SASL exchange), writes
 * the replies, and ends the session one way, whatever the cause.
 *
 * @module
 */

import { Pop3Error, Pop3SyntaxError } from "../errors.ts";
import { toHex } from "../_util/hex.ts";
import { type Command, parseCommand } from "../protocol/command.ts";
import { LINE_TOO_LONG, LineFramer } from "../protocol/line_framer.ts";
import { err, ok } from "../protocol/reply.ts";
import type { Conn } from "../transport/types.ts";
import { CallbackTimeoutError, callNow, callWithTimeout } from "./call.ts";
import { checkArgs, COMMANDS, transcriptLine } from "./commands.ts";
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

function timestamp(serverName: string): string {
  const random = crypto.getRandomValues(new Uint8Array(8));
  return `<${toHex(random)}.${Date.now()}@${serverName}>`;
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
  /** The connection id. */
  readonly id: number;
  /** The client's address. */
  readonly remote: string;
  /** The session's configuration. */
  readonly config: SessionConfig<M>;
  /** Receives events, errors and transcript lines. */
  readonly observer: SessionObserver;
  /** The reply queue. */
  readonly out: ReplyWriter;
  /** The APOP timestamp of the greeting. */
  readonly timestamp: string;
  /** AUTHORIZATION, TRANSACTION or UPDATE. */
  state: SessionState = "auth";
  /** The user name given to USER, or the logged-in user. */
  user: string | null = null;
  /** How the session logged in. */
  method: LoginMethod | null = null;
  /** The locked maildrop, once logged in. */
  drop: Maildrop | undefined;
  /** Messages removed at QUIT. */
  committed = 0;
  /** Failed logins so far. */
  authFailures = 0;
  /** The SASL exchange waiting for the client's next response. */
  sasl: SaslExchange | undefined;
  #conn: Conn;
  readonly #framer: LineFramer;
  readonly #deadlines: Deadlines;
  readonly #startTime = Date.now();
  readonly #ended = new AbortController();
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #reason: CloseReason | undefined;
  #cut = false;
  #badCommands = 0;
  #bytesIn = 0;
  #released: Promise<void> | undefined;

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
    this.#ended.abort(new Error(`Session ended: ${this.#reason}`));
    this.#reader?.cancel().catch(() => {});
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
    const writer = conn.writable.getWriter();
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
      this.#reader = this.#conn.readable.getReader();
      this.out.attach(this.#conn.writable.getWriter());
      this.#deadlines.start();
      this.out.send(ok(`${this.config.greeting} ${this.timestamp}`));
      await this.out.flush();
      while (!this.ending) {
        const line = await this.#nextLine();
        if (line === null) break;
        if (this.sasl) await saslResponse(this, line);
        else await this.#command(line);
        if (
          this.ending || !this.#framer.hasLine() || this.out.queued >= FLUSH_AT
        ) {
          // While ending, this is the final flush: the write deadline holds.
          await this.out.flush();
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

  async #nextLine(): Promise<Uint8Array | typeof LINE_TOO_LONG | null> {
    for (;;) {
      const line = this.#framer.next();
      if (line !== undefined) {
        this.#deadlines.activity();
        return line;
      }
      this.#deadlines.waiting(true);
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await this.#reader!.read();
      } finally {
        this.#deadlines.waiting(false);
      }
      if (result.done || this.#cut) return null;
      // Bytes without a whole command do not reset the idle clock (RFC 1939
      // §3: a command does), or a client trickling bytes stays forever.
      this.#bytesIn += result.value.length;
      this.observer.count("bytesIn", result.value.length);
      this.#framer.push(result.value);
    }
  }

  /** Parses, gates and dispatches one command line through the table. */
  async #command(line: Uint8Array | typeof LINE_TOO_LONG): Promise<void> {
    const observer = this.observer;
    if (line === LINE_TOO_LONG) {
      observer.transcript(this.id, "C", "<line too long>");
      return this.bad("Command line too long");
    }
    let cmd: Command;
    try {
      cmd = parseCommand(line);
    } catch (error) {
      observer.transcript(
        this.id,
        "C",
        `<invalid line of ${line.length} octets>`,
      );
      return this.bad((error as Error).message);
    }
    if (observer.wantsTranscript) {
      observer.transcript(this.id, "C", transcriptLine(cmd));
    }
    const spec = cmd.name === undefined ? undefined : COMMANDS[cmd.name];
    if (line.length + 2 > this.config.maxLineLength && !spec?.longLine) {
      return this.bad("Command line too long");
    }
    if (spec === undefined) return this.bad("Unknown command");
    if (!spec.states.includes(this.state)) {
      return this.bad(`${cmd.name} is not valid in this state`);
    }
    const started = observer.wantsCommands ? Date.now() : 0;
    let success = true;
    try {
      checkArgs(spec, cmd);
      await spec.handler(this as SessionContext<unknown>, cmd);
    } catch (error) {
      success = false;
      this.out.send(this.#toReply(error));
      if (error instanceof Pop3SyntaxError) this.countBad();
    }
    if (observer.wantsCommands) {
      this.emit({
        type: "command",
        id: this.id,
        remote: this.remote,
        verb: cmd.verb,
        ok: success,
        durationMs: Date.now() - started,
      });
    }
  }

  /** The one boundary that turns errors into replies. */
  #toReply(error: unknown): string {
    if (error instanceof Pop3Error) return err(error.message, error.code);
    // A callback abandoned because the session was killed: not a fault.
    if (error === this.#ended.signal.reason) {
      return err("Session closed", "SYS/TEMP");
    }
    if (error instanceof Pop3SyntaxError) return err(error.message);
    this.report(error);
    if (error instanceof CallbackTimeoutError) {
      return err("Storage did not answer in time", "SYS/TEMP");
    }
    return err("Internal server error", "SYS/TEMP");
  }

  /** Answers `-ERR message` and counts a bad command. */
  bad(message: string): void {
    this.out.send(err(message));
    this.countBad();
  }

  /** Counts a bad command; closes after `maxBadCommands`. */
  countBad(): void {
    if (++this.#badCommands >= this.config.maxBadCommands) {
      this.out.send(err("Too many bad commands, closing connection"));
      this.end("limit");
    }
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
    return this.out.flush();
  }

  /** The login deadline is over. */
  loggedIn(): void {
    this.#deadlines.loggedIn();
  }

  /**
   * Calls a callback under `callbackTimeout`. A session ended at once stops
   * waiting, except for `dele` and `unlock`, which must finish before the
   * lock is given up.
   */
  call = <T>(
    what: string,
    fn: () => T | Promise<T>,
    late?: (value: T) => void,
  ): Promise<T> =>
    callWithTimeout(
      what,
      this.config.callbackTimeout,
      fn,
      late,
      this.#signalFor(what),
    );

  /** Like `call`, without a Promise for a synchronous answer. */
  callNow = <T>(what: string, fn: () => T | Promise<T>): T | Promise<T> =>
    callNow(what, this.config.callbackTimeout, fn, this.#signalFor(what));

  #signalFor(what: string): AbortSignal | undefined {
    return what === "storage.dele" || what === "storage.unlock"
      ? undefined
      : this.#ended.signal;
  }

  /**
   * Releases the lock once, waiting at most `callbackTimeout` for it; the
   * unlock itself waits for a running delete (see `Maildrop.close`).
   */
  release(): Promise<void> {
    const drop = this.drop;
    if (!drop) return Promise.resolve();
    return this.#released ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.config.callbackTimeout);
      drop.close().catch((error) => this.report(error)).finally(() => {
        clearTimeout(timer);
        resolve();
      });
    });
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
    this.#reader = secure.readable.getReader();
    this.out.attach(secure.writable.getWriter());
  }
}
