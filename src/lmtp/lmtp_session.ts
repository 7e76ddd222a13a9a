/**
 * One LMTP connection: runs {@linkcode LmtpProtocol} over a
 * {@linkcode Conn}, asks the auth about recipients and the storage to
 * deliver, with timeouts.
 *
 * @module
 */

import type { Conn } from "../transport/types.ts";
import { localPart } from "./lmtp_command.ts";
import type {
  LmtpDeliveryOutcome,
  LmtpRecipient,
  LmtpRecipientResult,
} from "./lmtp_action.ts";
import { LmtpProtocol } from "./lmtp_protocol.ts";
import type { ResolvedLmtpdOptions } from "./lmtpd_options.ts";
import type {
  LmtpdCloseReason,
  LmtpdConnectionState,
  LmtpdEvent,
} from "./lmtpd_types.ts";

const encoder = new TextEncoder();

/** What a session reports to its server. */
export interface LmtpSessionHooks {
  /** An event for `onEvent`, the logger and the counters. */
  event(event: LmtpdEvent): void;
  /** An error for `onError`. */
  error(id: number, error: unknown): void;
}

class Timeout extends Error {
  constructor() {
    super("Timed out");
    this.name = "Timeout";
  }
}

function withTimeout<T>(value: T | Promise<T>, ms: number): Promise<T> {
  if (!(value instanceof Promise)) return Promise.resolve(value);
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    value,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Timeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Runs one LMTP session on a connection until QUIT, the client leaves, a
 * timeout or a limit ends it, or {@linkcode LmtpSession.kill}.
 *
 * @example
 * ```ts ignore
 * const session = new LmtpSession(1, conn, options, hooks);
 * await session.run();
 * ```
 */
export class LmtpSession<M> {
  readonly #id: number;
  readonly #conn: Conn;
  readonly #o: ResolvedLmtpdOptions<M>;
  readonly #hooks: LmtpSessionHooks;
  readonly #protocol: LmtpProtocol<M>;
  readonly #started = Date.now();
  #bytesIn = 0;
  #bytesOut = 0;
  #delivered = 0;
  #killed = false;
  #wakeKill: (() => void) | undefined;

  /**
   * Prepares a session; nothing happens before {@linkcode LmtpSession.run}.
   *
   * @param id The connection id.
   * @param conn The connection.
   * @param options The server's options.
   * @param hooks Where events and errors go.
   */
  constructor(
    id: number,
    conn: Conn,
    options: ResolvedLmtpdOptions<M>,
    hooks: LmtpSessionHooks,
  ) {
    this.#id = id;
    this.#conn = conn;
    this.#o = options;
    this.#hooks = hooks;
    this.#protocol = new LmtpProtocol<M>({
      serverName: options.serverName,
      maxMessageSize: options.maxMessageSize,
      maxRecipients: options.maxRecipients,
      maxLineLength: options.maxLineLength,
      maxBadCommands: options.maxBadCommands,
    });
  }

  /**
   * A snapshot of the connection.
   *
   * @returns Its state.
   */
  info(): LmtpdConnectionState {
    const envelope = this.#protocol.envelope;
    return {
      id: this.#id,
      remoteAddress: this.#conn.remoteAddr.hostname,
      remotePort: this.#conn.remoteAddr.port,
      encrypted: this.#conn.encrypted,
      state: this.#protocol.state,
      inData: this.#protocol.inData,
      from: envelope.from,
      recipients: envelope.recipients.length,
      delivered: this.#delivered,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      startTime: this.#started,
    };
  }

  /** Closes the connection now; `run` then ends. */
  kill(): void {
    this.#killed = true;
    this.#conn.close();
    this.#wakeKill?.();
  }

  /**
   * Runs the session to its end. Never rejects.
   *
   * @returns When the connection is closed.
   */
  async run(): Promise<void> {
    const remote = this.#conn.remoteAddr.hostname;
    const hooks = this.#hooks;
    const id = this.#id;
    hooks.event({ type: "open", id, remote, encrypted: this.#conn.encrypted });
    const reader = this.#conn.readable.getReader();
    const writer = this.#conn.writable.getWriter();
    const killed = new Promise<void>((resolve) => this.#wakeKill = resolve);
    let reason: LmtpdCloseReason = "client";
    const write = async (text: string) => {
      const bytes = encoder.encode(text);
      await Promise.race([
        withTimeout(writer.write(bytes), this.#o.writeTimeout),
        killed,
      ]);
      this.#bytesOut += bytes.length;
    };
    try {
      let out = this.#protocol.greeting();
      loop: for (;;) {
        if (this.#killed) break;
        const action = this.#protocol.next();
        if (action === undefined) {
          if (out !== "") await write(out);
          out = "";
          const timeout = this.#protocol.inData
            ? this.#o.dataTimeout
            : this.#o.idleTimeout;
          let timer: ReturnType<typeof setTimeout> | undefined;
          const result = await Promise.race([
            reader.read(),
            killed.then(() => "killed" as const),
            new Promise<"timeout">((resolve) => {
              timer = setTimeout(() => resolve("timeout"), timeout);
            }),
          ]).finally(() => clearTimeout(timer));
          if (result === "killed") break;
          if (result === "timeout") {
            reason = "timeout";
            await write(
              `421 4.4.2 ${this.#o.serverName} Idle timeout, closing connection\r\n`,
            ).catch(() => {});
            break;
          }
          if (result.done) break;
          this.#bytesIn += result.value.length;
          this.#protocol.receive(result.value);
          continue;
        }
        switch (action.type) {
          case "reply":
            out += action.text;
            if (action.close) {
              await write(out);
              out = "";
              reason = action.close === "quit" ? "quit" : "limit";
              break loop;
            }
            break;
          case "recipient":
            this.#protocol.recipient(await this.#recipient(action.address));
            break;
          case "deliver":
            this.#protocol.delivered(
              await this.#deliver(
                action.from,
                action.recipients,
                action.message,
              ),
            );
            break;
        }
      }
    } catch (error) {
      if (!this.#killed) {
        reason = error instanceof Timeout ? "timeout" : "error";
        if (reason === "error") hooks.error(id, error);
      }
    } finally {
      if (this.#killed) reason = "killed";
      reader.releaseLock();
      writer.releaseLock();
      this.#conn.close();
      hooks.event({
        type: "close",
        id,
        remote,
        reason,
        bytesIn: this.#bytesIn,
        bytesOut: this.#bytesOut,
        durationMs: Date.now() - this.#started,
      });
    }
  }

  async #recipient(address: string): Promise<LmtpRecipientResult<M>> {
    const o = this.#o;
    const id = this.#id;
    const remote = this.#conn.remoteAddr.hostname;
    let user: string | null | undefined;
    const report = (status: "accepted" | "unknown" | "temporary") =>
      this.#hooks.event({
        type: "recipient",
        id,
        remote,
        address,
        user: user ?? undefined,
        status,
      });
    try {
      user = await withTimeout(
        o.recipientUser ? o.recipientUser(address) : localPart(address),
        o.callbackTimeout,
      );
      if (
        user && o.auth &&
        await withTimeout(o.auth.exists(user), o.callbackTimeout)
      ) {
        const [, mbox] = await withTimeout(
          o.auth.lookup(user),
          o.callbackTimeout,
        );
        report("accepted");
        return { status: "accepted", user, mbox };
      }
    } catch (error) {
      this.#hooks.error(id, error);
      report("temporary");
      return { status: "temporary" };
    }
    report("unknown");
    return { status: "unknown" };
  }

  async #deliver(
    from: string,
    recipients: readonly LmtpRecipient<M>[],
    message: Uint8Array,
  ): Promise<LmtpDeliveryOutcome[]> {
    const storage = this.#o.storage;
    const outcomes: LmtpDeliveryOutcome[] = [];
    for (const r of recipients) {
      let outcome: LmtpDeliveryOutcome = "temporary";
      const started = Date.now();
      try {
        if (!storage) throw new Error("Cannot deliver: no storage is set");
        await withTimeout(
          storage.deliver(r.mbox, message),
          this.#o.callbackTimeout,
        );
        outcome = "delivered";
        this.#delivered++;
      } catch (error) {
        this.#hooks.error(this.#id, error);
      }
      outcomes.push(outcome);
      this.#hooks.event({
        type: "delivery",
        id: this.#id,
        remote: this.#conn.remoteAddr.hostname,
        from,
        user: r.user,
        size: message.length,
        outcome,
        durationMs: Date.now() - started,
      });
    }
    return outcomes;
  }
}
