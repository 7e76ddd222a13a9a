/**
 * One POP3 session over one connection: the state machine of RFC 1939.
 *
 * @module
 */

import { Pop3Error, Pop3SyntaxError } from "../errors.ts";
import { createSaslMechanism } from "../auth/sasl/create_sasl_mechanism.ts";
import { saslMechanisms } from "../auth/sasl/sasl_mechanisms.ts";
import type { SaslStep } from "../auth/sasl/types.ts";
import { decodeBase64, encodeBase64 } from "../_util/base64.ts";
import {
  type Command,
  parseCommand,
  parseNumber,
} from "../protocol/command.ts";
import { DotStuffer } from "../protocol/dot_stuffer.ts";
import { LINE_TOO_LONG, LineFramer } from "../protocol/line_framer.ts";
import { err, ok } from "../protocol/reply.ts";
import { TopFilter } from "../protocol/top_filter.ts";
import type { CloseReason, LoginMethod, Pop3dEvent } from "../server/events.ts";
import { Monitor } from "../server/monitor.ts";
import type { ResolvedOptions } from "../server/options.ts";
import type { Conn } from "../transport/types.ts";
import { md5Hex } from "../_util/md5.ts";
import { toHex } from "../_util/hex.ts";
import { timingSafeEqual } from "../_util/timing_safe_equal.ts";
import { CallbackTimeoutError, callNow, callWithTimeout } from "./call.ts";
import type { ConnectionState } from "./connection_state.ts";
import { Maildrop } from "./maildrop.ts";
import type { MessageBody } from "../storage/message_body.ts";
import { maildropStore } from "../storage/callback_maildrop.ts";
import type { MaildropHandle } from "../storage/maildrop_handle.ts";
import { hasPlaintext, saslCallbacks } from "./sasl_callbacks.ts";
import { ALLOWED, type SessionState } from "./state.ts";

/**
 * What a session is configured with: the server's options, plus
 * `failureDelay`, the milliseconds to wait before answering a failed login
 * (the server's per-address penalty); `authFailureDelay` without it.
 */
export type SessionOptions<M = unknown> = ResolvedOptions<M> & {
  failureDelay?: () => number;
};

const encoder = new TextEncoder();
const FLUSH_AT = 64 * 1024;
/** In-memory bodies are encoded and written in views of this size. */
const BODY_CHUNK = 256 * 1024;
const COALESCE_MAX = 16 * 1024;
const NO_PASSWORD = "\u0000no-such-user\u0000";

/** The lines of `chunk` that TOP sends, or all of it for RETR. */
function filtered(chunk: Uint8Array, top: TopFilter | undefined): Uint8Array {
  return top ? top.filter(chunk) : chunk;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Rebuilds a command line for the transcript, without secrets. */
function redacted(cmd: Command): string {
  switch (cmd.name) {
    case "PASS":
      return "PASS <redacted>";
    case "APOP":
      return `APOP ${cmd.args[0] ?? ""} <redacted>`;
    case "AUTH":
      return cmd.args.length > 1
        ? `AUTH ${cmd.args[0]} <redacted>`
        : `AUTH ${cmd.args[0] ?? ""}`.trim();
    case undefined:
      return "<unknown command>";
    default:
      return cmd.rest === "" ? cmd.name : `${cmd.name} ${cmd.rest}`;
  }
}

/** The maildrop of a server without storage: empty, and nothing to lock. */
const EMPTY_MAILDROP: MaildropHandle = {
  count: 0,
  octets: 0,
  size: () => 0,
  uid: () => "",
  get: () => new Uint8Array(0),
  delete: () => [],
  close: () => {},
};

const LOOPBACK = /^(127\.|::1$|::ffff:127\.|localhost$)/i;

function timestamp(serverName: string): string {
  const random = crypto.getRandomValues(new Uint8Array(8));
  return `<${toHex(random)}.${Date.now()}@${serverName}>`;
}

/**
 * Runs one POP3 session on a {@linkcode Conn}: greeting, commands, replies,
 * timeouts, and the lock held between login and the end of the session.
 * Touches no runtime API: the connection is a pair of Web Streams.
 *
 * @example Running a session over in-memory streams
 * ```ts ignore
 * const [client, server] = memoryConnPair();
 * const done = new Pop3Session(1, server, options).run();
 * ```
 */
export class Pop3Session<M = unknown> {
  /** The connection id. */
  readonly id: number;
  #conn: Conn;
  readonly #opts: SessionOptions<M>;
  readonly #monitor: Monitor;
  readonly #framer: LineFramer;
  readonly #startTime = Date.now();
  readonly #timestamp: string;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #state: SessionState = "auth";
  #user: string | null = null;
  #method: LoginMethod | null = null;
  #drop: Maildrop | undefined;
  #unlocking: Promise<void> | undefined;
  #releaseWait: Promise<void> | undefined;
  #closing = false;
  #reason: CloseReason = "client";
  #badCommands = 0;
  #authFailures = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = 0;
  #lastActivity = Date.now();
  #waitingForCommand = false;
  #writeSince = 0;
  #committed = 0;
  readonly #killed = new AbortController();

  /**
   * @param id Connection id.
   * @param conn The connection.
   * @param options The server's resolved options, and optionally the
   * `failureDelay` hook.
   * @param monitor Counters and hooks; by default one built from `options`.
   */
  constructor(
    id: number,
    conn: Conn,
    options: SessionOptions<M>,
    monitor?: Monitor,
  ) {
    this.id = id;
    this.#conn = conn;
    this.#opts = options;
    this.#monitor = monitor ?? new Monitor(options);
    this.#framer = new LineFramer(
      Math.max(options.maxLineLength, options.maxAuthLineLength),
    );
    this.#timestamp = timestamp(options.serverName);
  }

  /** A snapshot for `conn.state()`. */
  info(): ConnectionState {
    return {
      id: this.id,
      remoteAddress: this.#conn.remoteAddr.hostname,
      remotePort: this.#conn.remoteAddr.port,
      state: this.#state,
      user: this.#user,
      method: this.#method,
      encrypted: this.#conn.encrypted,
      messageCount: this.#drop?.count ?? 0,
      totalSize: this.#drop?.total ?? 0,
      deleted: this.#drop?.deletedIds() ?? [],
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      startTime: this.#startTime,
    };
  }

  /** Ends the session now: no UPDATE state, the lock released. */
  kill(reason: CloseReason = "killed"): void {
    this.#abort(reason);
    this.#closeConn();
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
    this.#emit({
      type: "open",
      id: this.id,
      remote: this.#conn.remoteAddr.hostname,
      encrypted: this.#conn.encrypted,
    });
    try {
      this.#reader = this.#conn.readable.getReader();
      this.#writer = this.#conn.writable.getWriter();
      this.#arm();
      this.#send(ok(`${this.#opts.greeting} ${this.#timestamp}`));
      await this.#flush();
      while (!this.#closing) {
        const line = await this.#nextLine();
        if (line === null) break;
        await this.#handleLine(line);
        if (
          this.#closing || !this.#framer.hasLine() || this.#outBytes >= FLUSH_AT
        ) {
          await this.#flush();
        }
        // The idle clock starts when the reply is out, not when the command
        // came in: a RETR slower than idleTimeout must not end the session.
        this.#lastActivity = Date.now();
      }
    } catch {
      // A read or write failed: the connection is gone. Command errors never
      // get here; they become replies in #handleLine.
      if (!this.#closing) {
        this.#reason = "error";
        this.#closing = true;
      }
    } finally {
      clearTimeout(this.#timer);
      // A delete that hangs keeps the lock (it may still be removing files),
      // but not the session: the unlock follows whenever the delete settles.
      await this.#releaseBounded();
      this.#closeConn();
      if (this.#method !== null) {
        this.#emit({
          type: "logout",
          id: this.id,
          remote: this.#conn.remoteAddr.hostname,
          user: this.#user ?? "",
          deleted: this.#committed,
        });
      }
      this.#emit({
        type: "close",
        id: this.id,
        remote: this.#conn.remoteAddr.hostname,
        reason: this.#reason,
        bytesIn: this.#bytesIn,
        bytesOut: this.#bytesOut,
        durationMs: Date.now() - this.#startTime,
      });
    }
  }

  // ---- I/O -------------------------------------------------------------

  async #nextLine(): Promise<Uint8Array | typeof LINE_TOO_LONG | null> {
    for (;;) {
      const line = this.#framer.next();
      if (line !== undefined) {
        this.#lastActivity = Date.now();
        return line;
      }
      this.#waitingForCommand = true;
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await this.#reader!.read();
      } finally {
        this.#waitingForCommand = false;
      }
      if (result.done || this.#closing) return null;
      // Bytes without a whole command do not reset the idle clock (RFC 1939
      // §3: a command does), or a client trickling bytes stays forever.
      this.#bytesIn += result.value.length;
      this.#monitor.stats.bytesIn += result.value.length;
      this.#framer.push(result.value);
    }
  }

  #send(text: string): void {
    if (this.#monitor.wantsTranscript) {
      for (const line of text.split("\r\n")) {
        if (line !== "") this.#monitor.transcript(this.id, "S", line);
      }
    }
    this.#push(encoder.encode(text));
  }

  #push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#out.push(bytes);
    this.#outBytes += bytes.length;
  }

  async #flush(): Promise<void> {
    if (this.#outBytes === 0) return;
    const parts = this.#out;
    const total = this.#outBytes;
    this.#out = [];
    this.#outBytes = 0;
    this.#writeSince = Date.now();
    // The timer may point at a later idle deadline: bring it forward.
    if (this.#timerDue > this.#writeSince + this.#opts.writeTimeout) {
      this.#arm();
    }
    try {
      if (parts.length === 1) {
        await this.#writer!.write(parts[0]);
      } else if (total <= COALESCE_MAX) {
        // Many small replies (pipelining): one write.
        const chunk = new Uint8Array(total);
        let at = 0;
        for (const part of parts) {
          chunk.set(part, at);
          at += part.length;
        }
        await this.#writer!.write(chunk);
      } else {
        // Large bodies: write the parts as they are, without a copy.
        for (const part of parts) await this.#writer!.write(part);
      }
    } finally {
      this.#writeSince = 0;
    }
    this.#bytesOut += total;
    this.#monitor.stats.bytesOut += total;
  }

  /** One timer per session: idle, login and write deadlines, checked when it fires. */
  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#closing) return;
    const o = this.#opts;
    const now = Date.now();
    let wait: number;
    if (this.#writeSince !== 0) {
      const left = this.#writeSince + o.writeTimeout - now;
      if (left <= 0) return this.#abort("timeout");
      wait = left;
    } else if (this.#waitingForCommand) {
      const limit = this.#state === "auth" ? o.loginTimeout : o.idleTimeout;
      const left = this.#lastActivity + limit - now;
      // RFC 1939 §3: on autologout, close without a response and without
      // entering the UPDATE state.
      if (left <= 0) return this.#abort("timeout");
      wait = left;
    } else {
      wait = Math.min(
        o.writeTimeout,
        this.#state === "auth" ? o.loginTimeout : o.idleTimeout,
      );
    }
    wait = Math.max(wait, 10);
    this.#timerDue = now + wait;
    this.#timer = setTimeout(() => this.#arm(), wait);
  }

  #abort(reason: CloseReason, line?: string): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#reason = reason;
    clearTimeout(this.#timer);
    this.#killed.abort(new Error(`Session ended: ${reason}`));
    if (line && this.#writer && this.#writeSince === 0) {
      this.#writer.write(encoder.encode(line)).catch(() => {});
    }
    // Give a final line a moment to leave, then cut the connection.
    setTimeout(() => this.#closeConn(), line ? 10 : 0);
    this.#reader?.cancel().catch(() => {});
  }

  #closeConn(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  #emit(event: Pop3dEvent): void {
    this.#monitor.event(event);
  }

  #report(error: unknown): void {
    this.#monitor.error(this.id, error);
  }

  /**
   * Calls a callback under the deadline. A killed session stops waiting at
   * once, except for `dele` and `unlock`, which must finish before the lock
   * is given up.
   */
  #call = <T>(
    what: string,
    fn: () => T | Promise<T>,
    late?: (value: T) => void,
  ): Promise<T> =>
    callWithTimeout(
      what,
      this.#opts.callbackTimeout,
      fn,
      late,
      this.#signalFor(what),
    );

  /** Aborts on kill, except for `dele` and `unlock`, which must finish. */
  #signalFor(what: string): AbortSignal | undefined {
    return what === "storage.dele" || what === "storage.unlock"
      ? undefined
      : this.#killed.signal;
  }

  // ---- commands ---------------------------------------------------------

  async #handleLine(line: Uint8Array | typeof LINE_TOO_LONG): Promise<void> {
    if (line === LINE_TOO_LONG) {
      this.#monitor.transcript(this.id, "C", "<line too long>");
      return this.#bad("Command line too long");
    }
    let cmd: Command;
    try {
      cmd = parseCommand(line);
    } catch (error) {
      this.#monitor.transcript(
        this.id,
        "C",
        `<invalid line of ${line.length} octets>`,
      );
      return this.#bad((error as Error).message);
    }
    if (this.#monitor.wantsTranscript) {
      this.#monitor.transcript(this.id, "C", redacted(cmd));
    }
    if (line.length + 2 > this.#opts.maxLineLength && cmd.name !== "AUTH") {
      return this.#bad("Command line too long");
    }
    if (cmd.name === undefined) return this.#bad("Unknown command");
    if (!ALLOWED[this.#state].has(cmd.name)) {
      return this.#bad(`${cmd.name} is not valid in this state`);
    }
    const started = this.#monitor.wantsCommands ? Date.now() : 0;
    let success = true;
    try {
      await this.#dispatch(cmd);
    } catch (error) {
      success = false;
      this.#send(this.#toReply(error));
      if (error instanceof Pop3SyntaxError) this.#countBad();
    }
    if (this.#monitor.wantsCommands) {
      this.#emit({
        type: "command",
        id: this.id,
        remote: this.#conn.remoteAddr.hostname,
        verb: cmd.name,
        ok: success,
        durationMs: Date.now() - started,
      });
    }
  }

  #bad(message: string): void {
    this.#send(err(message));
    this.#countBad();
  }

  #countBad(): void {
    if (++this.#badCommands >= this.#opts.maxBadCommands) {
      this.#send(err("Too many bad commands, closing connection"));
      this.#close("limit");
    }
  }

  #close(reason: CloseReason): void {
    this.#closing = true;
    this.#reason = reason;
  }

  #toReply(error: unknown): string {
    if (error instanceof Pop3Error) return err(error.message, error.code);
    // A callback abandoned because the session was killed: not a fault.
    if (error === this.#killed.signal.reason) {
      return err("Session closed", "SYS/TEMP");
    }
    if (error instanceof Pop3SyntaxError) return err(error.message);
    this.#report(error);
    if (error instanceof CallbackTimeoutError) {
      return err("Storage did not answer in time", "SYS/TEMP");
    }
    return err("Internal server error", "SYS/TEMP");
  }

  #dispatch(cmd: Command): Promise<void> | void {
    switch (cmd.name) {
      case "USER":
        return this.#userCmd(cmd);
      case "PASS":
        return this.#pass(cmd);
      case "APOP":
        return this.#apop(cmd);
      case "CAPA":
        return this.#capa(cmd);
      case "QUIT":
        return this.#quit(cmd);
      case "STAT":
        return this.#stat(cmd);
      case "LIST":
        return this.#list(cmd);
      case "RETR":
        return this.#retr(cmd);
      case "TOP":
        return this.#top(cmd);
      case "DELE":
        return this.#dele(cmd);
      case "NOOP":
        return this.#noop(cmd);
      case "RSET":
        return this.#rset(cmd);
      case "UIDL":
        return this.#uidl(cmd);
      case "AUTH":
        return this.#auth(cmd);
      case "STLS":
        return this.#stls(cmd);
      case undefined:
        throw new Pop3SyntaxError("Unknown command");
    }
  }

  #args(cmd: Command, min: number, max: number): void {
    if (cmd.args.length < min) {
      throw new Pop3SyntaxError(`Missing argument for ${cmd.verb}`);
    }
    if (cmd.args.length > max) {
      throw new Pop3SyntaxError(`Too many arguments for ${cmd.verb}`);
    }
  }

  #capa(cmd: Command): void {
    this.#args(cmd, 0, 0);
    const lines = ["+OK Capability list follows", "TOP", "UIDL"];
    if (this.#state === "auth") {
      if (this.#plaintextAllowed()) lines.push("USER");
      const mechanisms = this.#mechanisms();
      if (mechanisms.length > 0) lines.push(`SASL ${mechanisms.join(" ")}`);
      if (this.#canStartTls()) lines.push("STLS");
    }
    lines.push("RESP-CODES", "AUTH-RESP-CODE", "PIPELINING");
    if (this.#opts.expire !== null) lines.push(`EXPIRE ${this.#opts.expire}`);
    if (this.#opts.loginDelay !== null) {
      lines.push(`LOGIN-DELAY ${this.#opts.loginDelay}`);
    }
    if (this.#opts.implementation) {
      lines.push(`IMPLEMENTATION ${this.#opts.implementation}`);
    }
    lines.push(".", "");
    this.#send(lines.join("\r\n"));
  }

  /** Whether a password may be sent in the clear on this connection now. */
  #plaintextAllowed(): boolean {
    const policy = this.#opts.plaintextAuth;
    if (policy === "always" || this.#conn.encrypted) return true;
    return policy === "loopback" &&
      LOOPBACK.test(this.#conn.remoteAddr.hostname);
  }

  #mechanisms(): string[] {
    const auth = this.#opts.auth;
    if (!auth) return [];
    return saslMechanisms(saslCallbacks(auth, this.#call), {
      cleartext: this.#plaintextAllowed(),
    });
  }

  #canStartTls(): boolean {
    return !!this.#opts.tls && !this.#conn.encrypted &&
      typeof this.#conn.startTls === "function";
  }

  async #quit(cmd: Command): Promise<void> {
    this.#args(cmd, 0, 0);
    this.#close("quit");
    if (this.#state === "trans") {
      this.#state = "update";
      try {
        const marked = this.#drop!.deletedIds().length;
        this.#committed = await this.#drop!.commit();
        this.#monitor.stats.messagesDeleted += this.#committed;
        if (this.#committed < marked) {
          this.#send(
            err(
              `${
                marked - this.#committed
              } of ${marked} deleted messages were not removed`,
              "SYS/TEMP",
            ),
          );
          return;
        }
      } catch (error) {
        this.#report(error);
        this.#send(err("Some deleted messages were not removed", "SYS/TEMP"));
        return;
      } finally {
        await this.#releaseBounded();
      }
    }
    this.#send(ok("Bye"));
  }

  // ---- AUTHORIZATION ----------------------------------------------------

  #userCmd(cmd: Command): void {
    if (cmd.rest === "") throw new Pop3SyntaxError("Missing user name");
    this.#requirePlaintext();
    this.#user = cmd.rest;
    this.#send(ok());
  }

  async #pass(cmd: Command): Promise<void> {
    const name = this.#user;
    this.#requirePlaintext();
    if (name === null) throw new Pop3Error("No user name given");
    const password = cmd.rest;
    const found = await this.#verifyPassword(name, password);
    await this.#login(name, "USER", found);
  }

  async #apop(cmd: Command): Promise<void> {
    this.#args(cmd, 2, 2);
    const [name, digest] = cmd.args;
    if (!/^[0-9a-fA-F]{32}$/.test(digest)) {
      throw new Pop3SyntaxError("Invalid APOP digest");
    }
    this.#user = name;
    const auth = this.#opts.auth;
    let found: { mbox: M } | undefined;
    if (auth && !hasPlaintext(auth)) {
      throw new Pop3Error("APOP is not available", "AUTH");
    }
    if (auth) {
      const exists = await this.#call("auth.exists", () =>
        auth.exists(name)) === true;
      const [password, mbox] = await this.#lookupAlways(name, exists);
      const match = timingSafeEqual(
        md5Hex(this.#timestamp + password),
        digest.toLowerCase(),
      );
      if (exists && match) found = { mbox: mbox as M };
    }
    await this.#login(name, "APOP", found);
  }

  #requirePlaintext(): void {
    if (!this.#plaintextAllowed()) {
      throw new Pop3Error(
        "Plaintext authentication disallowed on non-secure connections",
        "AUTH",
      );
    }
  }

  async #auth(cmd: Command): Promise<void> {
    if (cmd.args.length === 0) {
      this.#send(
        ["+OK Supported SASL mechanisms follow", ...this.#mechanisms(), ".", ""]
          .join("\r\n"),
      );
      return;
    }
    this.#args(cmd, 1, 2);
    const [name, initial] = cmd.args;
    const method: LoginMethod = `SASL ${name.toUpperCase()}`;
    const auth = this.#opts.auth;
    const mechanism = auth
      ? createSaslMechanism(name, saslCallbacks(auth, this.#call), {
        cleartext: this.#plaintextAllowed(),
        cramMd5: { hostname: this.#opts.serverName },
      })
      : undefined;
    if (!mechanism) {
      const known = ["PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"].includes(
        name.toUpperCase(),
      );
      if (known && auth && !this.#plaintextAllowed()) this.#requirePlaintext();
      throw new Pop3Error("Unrecognized authentication type");
    }
    let response: Uint8Array | undefined;
    if (initial !== undefined) {
      response = initial === "=" ? new Uint8Array(0) : decodeBase64(initial);
      if (response === undefined) {
        throw new Pop3SyntaxError("Invalid base64 in initial response");
      }
    }
    let step: SaslStep = await mechanism.start(response);
    while (step.type === "challenge") {
      this.#send(`+ ${encodeBase64(step.challenge)}\r\n`);
      let line: Uint8Array | typeof LINE_TOO_LONG | null;
      try {
        await this.#flush();
        line = await this.#nextLine();
      } catch {
        line = null; // The client went away mid-exchange: not a server fault.
      }
      if (line === null) {
        this.#close("client");
        return;
      }
      if (line === LINE_TOO_LONG) {
        throw new Pop3Error("Authentication response too long", "AUTH");
      }
      this.#monitor.transcript(this.id, "C", "<redacted>");
      const text = new TextDecoder().decode(line).trim();
      if (text === "*") throw new Pop3Error("Authentication cancelled", "AUTH");
      const bytes = decodeBase64(text);
      if (bytes === undefined) {
        throw new Pop3Error(
          "Invalid base64 in authentication response",
          "AUTH",
        );
      }
      step = await mechanism.step(bytes);
    }
    if (step.type === "failure") {
      await this.#login(
        step.reason === "malformed" ? "" : "",
        method,
        undefined,
      );
      return;
    }
    const [, mbox] = await this.#lookup(step.user);
    await this.#login(step.user, method, { mbox });
  }

  async #stls(cmd: Command): Promise<void> {
    this.#args(cmd, 0, 0);
    if (this.#conn.encrypted) throw new Pop3Error("Already using TLS");
    if (!this.#canStartTls()) throw new Pop3Error("STLS is not available");
    this.#send(ok("Begin TLS negotiation now"));
    await this.#flush();
    // Plaintext pipelined after STLS must never run inside TLS (CVE-2011-0411).
    this.#framer.clear();
    this.#reader!.releaseLock();
    this.#writer!.releaseLock();
    this.#user = null;
    let secure: Conn;
    // The handshake is the client's turn: the login timeout applies, so a
    // client that sends STLS and then nothing cannot hold the connection.
    this.#waitingForCommand = true;
    this.#lastActivity = Date.now();
    try {
      secure = await this.#conn.startTls!();
    } catch (error) {
      if (this.#closing) return; // Timed out or killed: not a server error.
      this.#report(error);
      this.#close("error");
      this.#reader = undefined;
      this.#writer = undefined;
      return;
    } finally {
      this.#waitingForCommand = false;
    }
    this.#conn = secure;
    this.#reader = secure.readable.getReader();
    this.#writer = secure.writable.getWriter();
  }

  async #lookup(name: string): Promise<readonly [string, M]> {
    const auth = this.#opts.auth!;
    const entry = await this.#call("auth.lookup", () => auth.lookup(name));
    if (
      !Array.isArray(entry) || entry.length < 2 || typeof entry[0] !== "string"
    ) {
      throw new TypeError('Auth "lookup" must return [password, mbox]');
    }
    return entry as unknown as readonly [string, M];
  }

  /**
   * Calls `lookup` for an unknown user too, ignoring its result and errors,
   * so that an unknown user and a wrong password call the same callbacks
   * and take about the same time (no user enumeration).
   */
  async #lookupAlways(
    name: string,
    exists: boolean,
  ): Promise<readonly [string, M | undefined]> {
    if (exists) return await this.#lookup(name);
    try {
      await this.#lookup(name);
    } catch {
      // Expected: the user does not exist.
    }
    return [NO_PASSWORD, undefined];
  }

  /** Checks a plaintext password; the same work whether or not the user exists. */
  async #verifyPassword(
    name: string,
    password: string,
  ): Promise<{ mbox: M } | undefined> {
    const auth = this.#opts.auth;
    if (!auth) return undefined;
    if (typeof auth.authenticate === "function") {
      const authenticate = auth.authenticate.bind(auth);
      const passed = await this.#call(
        "auth.authenticate",
        () => authenticate(name, password),
      );
      if (passed !== true) return undefined;
      const [, mbox] = await this.#lookup(name);
      return { mbox };
    }
    const exists =
      await this.#call("auth.exists", () => auth.exists(name)) === true;
    const [expected, mbox] = await this.#lookupAlways(name, exists);
    const match = timingSafeEqual(expected, password);
    return exists && match ? { mbox: mbox as M } : undefined;
  }

  async #login(
    name: string,
    method: LoginMethod,
    found: { mbox: M } | undefined,
  ): Promise<void> {
    if (!found) {
      this.#loginFailed(name, method, "credentials");
      await this.#failedLogin();
      return;
    }
    const storage = this.#opts.storage;
    const mbox = found.mbox;
    let handle: MaildropHandle | null;
    try {
      handle = storage
        ? await this.#call(
          "storage.lock",
          () =>
            maildropStore(storage).openMaildrop(mbox, {
              user: name,
              signal: this.#killed.signal,
            }),
          (late) => {
            if (late) {
              Promise.resolve().then(() => late.close()).catch(() => {});
            }
          },
        )
        : EMPTY_MAILDROP;
    } catch (error) {
      this.#loginFailed(name, method, "error");
      throw error;
    }
    if (!handle) {
      this.#loginFailed(name, method, "in-use");
      throw new Pop3Error("Mailbox is locked by another session", "IN-USE");
    }
    try {
      this.#drop = new Maildrop(
        handle,
        (what, fn) =>
          callNow(what, this.#opts.callbackTimeout, fn, this.#signalFor(what)),
      );
    } catch (error) {
      await Promise.resolve().then(() => handle.close()).catch(() => {});
      this.#loginFailed(name, method, "error");
      throw error;
    }
    this.#user = name;
    this.#method = method;
    this.#state = "trans";
    this.#arm();
    this.#emit({
      type: "login",
      id: this.id,
      remote: this.#conn.remoteAddr.hostname,
      user: name,
      method,
    });
    const n = this.#drop.count;
    this.#send(
      ok(
        `${name} has ${n} message${
          n === 1 ? "" : "s"
        } (${this.#drop.total} octets)`,
      ),
    );
  }

  /** Forgets the user name and reports a failed login. */
  #loginFailed(
    name: string,
    method: LoginMethod,
    reason: "credentials" | "in-use" | "error",
  ): void {
    this.#user = null;
    this.#emit({
      type: "login-failed",
      id: this.id,
      remote: this.#conn.remoteAddr.hostname,
      user: name,
      method,
      reason,
    });
  }

  async #failedLogin(): Promise<void> {
    this.#authFailures++;
    const delay = this.#opts.failureDelay?.() ?? this.#opts.authFailureDelay;
    if (delay > 0) await sleep(delay, this.#killed.signal);
    this.#send(err("Authentication failed", "AUTH"));
    if (this.#authFailures >= this.#opts.maxAuthFailures) {
      this.#send(err("Too many failed logins, closing connection", "AUTH"));
      this.#close("limit");
    }
  }

  /**
   * Releases the lock, waiting at most `callbackTimeout` ms for it (one
   * wait, however often asked).
   */
  #releaseBounded(): Promise<void> {
    return this.#releaseWait ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#opts.callbackTimeout);
      this.#release().finally(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Releases the lock exactly once, whatever ends the session. */
  #release(): Promise<void> {
    if (!this.#drop) return Promise.resolve();
    return this.#unlocking ??= this.#drop.close().catch((error) =>
      this.#report(error)
    );
  }

  // ---- TRANSACTION ------------------------------------------------------

  #message(cmd: Command, index = 0): number {
    return this.#drop!.live(parseNumber(cmd.args[index], "message number"));
  }

  #stat(cmd: Command): void {
    this.#args(cmd, 0, 0);
    this.#send(ok(`${this.#drop!.liveCount} ${this.#drop!.liveOctets}`));
  }

  #list(cmd: Command): Promise<void> {
    const drop = this.#drop!;
    return this.#perMessage(
      cmd,
      (n) => drop.size(n),
      () => `${drop.liveCount} messages (${drop.liveOctets} octets)`,
    );
  }

  #uidl(cmd: Command): Promise<void> {
    const drop = this.#drop!;
    return this.#perMessage(
      cmd,
      (n) => drop.uid(n),
      () => "Unique-ID listing follows",
    );
  }

  /** LIST and UIDL: `+OK n value` for one message, or a listing of all. */
  async #perMessage(
    cmd: Command,
    value: (n: number) => number | string | Promise<number | string>,
    header: () => string,
  ): Promise<void> {
    this.#args(cmd, 0, 1);
    if (cmd.args.length === 1) {
      const n = this.#message(cmd);
      this.#send(ok(`${n} ${await value(n)}`));
      return;
    }
    const listing = await this.#listing(value);
    this.#send(ok(header()));
    this.#send(listing);
  }

  /**
   * The body of a LIST or UIDL reply, terminator included: `n value` for
   * each message not deleted. Waits only for values that are Promises, so a
   * synchronous storage costs no microtask per message.
   */
  async #listing(
    value: (n: number) => number | string | Promise<number | string>,
  ): Promise<string> {
    const drop = this.#drop!;
    let text = "";
    for (let n = 1; n <= drop.count; n++) {
      if (drop.isDeleted(n)) continue;
      const v = value(n);
      text += `${n} ${v instanceof Promise ? await v : v}\r\n`;
    }
    return text + ".\r\n";
  }

  async #dele(cmd: Command): Promise<void> {
    this.#args(cmd, 1, 1);
    const n = this.#message(cmd);
    await this.#drop!.markDeleted(n);
    this.#send(ok(`Message ${n} deleted`));
  }

  #noop(cmd: Command): void {
    this.#args(cmd, 0, 0);
    this.#send(ok());
  }

  #rset(cmd: Command): void {
    this.#args(cmd, 0, 0);
    this.#drop!.reset();
    this.#send(
      ok(
        `Maildrop has ${this.#drop!.count} messages (${
          this.#drop!.total
        } octets)`,
      ),
    );
  }

  async #retr(cmd: Command): Promise<void> {
    this.#args(cmd, 1, 1);
    const n = this.#message(cmd);
    const size = await this.#drop!.size(n);
    const body = await this.#drop!.get(n);
    this.#send(ok(`${size} octets`));
    await this.#stream(n, body, undefined, size);
  }

  async #top(cmd: Command): Promise<void> {
    this.#args(cmd, 2, 2);
    const n = this.#message(cmd);
    const lines = parseNumber(cmd.args[1], "line count");
    const body = await this.#drop!.get(n);
    this.#send(ok("Top of message follows"));
    await this.#stream(n, body, new TopFilter(lines), undefined);
  }

  /**
   * Streams a message as a multi-line reply. Once `+OK` is queued, a failure
   * cannot become `-ERR`: the connection is closed without the terminator,
   * so the client never takes a partial message for a whole one.
   */
  async #stream(
    n: number,
    body: MessageBody,
    top: TopFilter | undefined,
    size: number | undefined,
  ): Promise<void> {
    const stuffer = new DotStuffer();
    // Bytes in memory are encoded view by view in a plain loop; only a
    // stream needs a reader and a promise per chunk.
    const reader = body instanceof Uint8Array ? undefined : body.getReader();
    let writing = false;
    try {
      if (reader === undefined) {
        const bytes = body as Uint8Array;
        for (let at = 0; at < bytes.length && !top?.done; at += BODY_CHUNK) {
          const view = bytes.subarray(at, at + BODY_CHUNK);
          this.#push(stuffer.encode(filtered(view, top)));
          if (this.#outBytes >= FLUSH_AT) {
            writing = true;
            await this.#flush();
            writing = false;
          }
        }
      } else {
        for (;;) {
          // A stream that stalls is a callback that never settles.
          const { done, value } = await this.#call(
            "storage.get stream",
            () => reader.read(),
          );
          if (done) break;
          if (!(value instanceof Uint8Array)) {
            throw new TypeError(
              `Storage "get" stream for message ${n} yielded a non-Uint8Array chunk`,
            );
          }
          this.#push(stuffer.encode(filtered(value, top)));
          if (this.#outBytes >= FLUSH_AT) {
            writing = true;
            await this.#flush();
            writing = false;
          }
          if (top?.done) break;
        }
      }
      if (size !== undefined && stuffer.octets !== size) {
        throw new RangeError(
          `Message ${n} has ${stuffer.octets} octets but storage "size" said ${size}`,
        );
      }
    } catch (error) {
      reader?.cancel().catch(() => {});
      // A failed write means the client went away: not a storage fault.
      if (!writing && !this.#closing) this.#report(error);
      // Send the replies queued before this one and what was read of this
      // one, never the terminator, then cut the connection.
      if (!writing) await this.#flush().catch(() => {});
      this.#abort(writing ? "client" : "error");
      return;
    }
    if (top) reader?.cancel().catch(() => {});
    else reader?.releaseLock();
    this.#push(stuffer.end());
    if (size !== undefined) this.#monitor.stats.messagesSent++;
  }
}
