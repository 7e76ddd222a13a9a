/**
 * The LMTP server (RFC 2033): mail in from an MTA (Postfix `lmtp:`, Exim,
 * OpenSMTPD), delivered into the same storage that {@linkcode Pop3d}
 * serves.
 *
 * @module
 */

import { defaultSocket } from "../transport/default_socket.ts";
import type { Conn } from "../transport/types.ts";
import { ServerLifecycle } from "../_util/server_lifecycle.ts";
import {
  checkLmtpdOption,
  LMTPD_DEFAULTS,
  type LmtpdOptions,
  type ResolvedLmtpdOptions,
} from "./lmtpd_options.ts";
import type {
  LmtpdConnections,
  LmtpdEvent,
  LmtpdStats,
} from "./lmtpd_types.ts";
import { LmtpSession } from "./lmtp_session.ts";

export { LMTPD_DEFAULTS } from "./lmtpd_options.ts";
export type { LmtpdOptions, ResolvedLmtpdOptions } from "./lmtpd_options.ts";
export type {
  LmtpdCloseReason,
  LmtpdConnections,
  LmtpdConnectionState,
  LmtpDelivery,
  LmtpdEvent,
  LmtpdLogger,
  LmtpdStats,
} from "./lmtpd_types.ts";

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A hook that throws must not break the server.
  }
}

/**
 * An LMTP server (RFC 2033) that accepts mail for the users of an auth
 * object and hands it to a storage's `deliver`. LHLO, MAIL (with `SIZE=`
 * and `BODY=8BITMIME`), RCPT, DATA with one reply per recipient, RSET,
 * NOOP and QUIT; PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME and SIZE.
 * Unknown recipients get `550 5.1.1`, a failed delivery `451 4.3.0` for
 * that recipient only. The lifecycle is {@linkcode Pop3d}'s: `up`, `down`,
 * `destroy("kill" | "defer")`, `conn.list()`, `conn.state(id)`.
 *
 * @example Mail in over LMTP, out over POP3, one MemoryStorage
 * ```ts
 * import { Lmtpd, MemoryAuth, MemoryStorage, Pop3d } from "@x/pop3d";
 *
 * const auth = new MemoryAuth().addUser("alice", "secret");
 * const storage = new MemoryStorage();
 * const lmtp = new Lmtpd({ port: 0, auth, storage });
 * const pop3 = new Pop3d({ port: 0, hostname: "127.0.0.1", auth, storage });
 * await Promise.all([lmtp.up(), pop3.up()]);
 * console.assert(lmtp.port > 0);
 * await Promise.all([lmtp.destroy(), pop3.destroy()]);
 * ```
 */
export class Lmtpd<M = unknown> {
  #o: ResolvedLmtpdOptions<M>;
  #life: ServerLifecycle<LmtpSession<M>>;
  #sessions: Map<number, LmtpSession<M>>;
  #nextId = 1;
  #stats: LmtpdStats = {
    connections: 0,
    connectionsTotal: 0,
    connectionsRefused: 0,
    delivered: 0,
    deliveryFailures: 0,
    recipientsRejected: 0,
    bytesIn: 0,
    bytesOut: 0,
    errors: 0,
  };

  /** The open connections: `conn.list()` and `conn.state(id)`. */
  readonly conn: LmtpdConnections;

  /**
   * Creates a server; it listens only after {@linkcode Lmtpd.up}.
   *
   * @param options See {@linkcode LmtpdOptions}.
   * @throws {TypeError} For an unknown option or a value of the wrong type.
   * @throws {RangeError} For a value out of range.
   */
  constructor(options: LmtpdOptions<M> = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Options must be an object");
    }
    const resolved = { ...LMTPD_DEFAULTS } as Record<string, unknown>;
    for (const [name, value] of Object.entries(options)) {
      if (value === undefined) continue;
      checkLmtpdOption(name, value);
      resolved[name] = value;
    }
    this.#o = resolved as ResolvedLmtpdOptions<M>;
    this.#life = new ServerLifecycle({
      listen: () =>
        (this.#o.socket ?? defaultSocket)({
          hostname: this.#o.hostname,
          port: this.#o.port,
        }),
      accept: (conn) => this.#start(conn),
      error: (error) => this.#error(undefined, error),
      ended: () => void this.#stats.connections--,
    });
    this.#sessions = this.#life.sessions;
    const sessions = this.#sessions;
    this.conn = {
      list: () => [...sessions.keys()],
      state: (id) => {
        const session = this.#life.session(id);
        return session.info();
      },
    };
  }

  /** `"down"`, `"up"` or `"destroyed"`. */
  get state(): "down" | "up" | "destroyed" {
    return this.#life.state;
  }

  /** The bound port while up, else the configured one. */
  get port(): number {
    return this.#life.listener?.addr.port ?? this.#o.port;
  }

  /**
   * Returns the value of one option; `port` is the bound port while up.
   *
   * @param name An option name (a leading `-` is ignored, Tcl style).
   * @returns Its value.
   * @throws {TypeError} For an unknown option.
   *
   * @example
   * ```ts
   * import { Lmtpd } from "@x/pop3d";
   * console.assert(new Lmtpd().cget("port") === 24);
   * ```
   */
  cget(name: string): unknown {
    const key = name.startsWith("-") ? name.slice(1) : name;
    if (!Object.hasOwn(LMTPD_DEFAULTS, key)) {
      throw new TypeError(`Unknown option: "${name}"`);
    }
    if (key === "port") return this.port;
    return this.#o[key as keyof ResolvedLmtpdOptions<M>];
  }

  /**
   * Counters since the server was created.
   *
   * @returns A copy of the counters.
   *
   * @example
   * ```ts
   * import { Lmtpd } from "@x/pop3d";
   * console.assert(new Lmtpd().stats().delivered === 0);
   * ```
   */
  stats(): LmtpdStats {
    return { ...this.#stats };
  }

  /**
   * Starts listening; resolves once bound.
   *
   * @throws {Error} After `destroy()`, or when the socket cannot be bound.
   */
  up(): Promise<void> {
    return this.#life.up();
  }

  /** Stops listening; open sessions go on. */
  down(): Promise<void> {
    return this.#life.down();
  }

  /**
   * Stops listening and ends the server. `"kill"` (the default) closes
   * every session now (a message not yet answered is not delivered, so the
   * MTA sends it again); `"defer"` resolves when the last session ended.
   *
   * @param mode `"kill"` or `"defer"`.
   * @returns When the server is down and, for `"defer"`, idle.
   */
  destroy(mode: "kill" | "defer" = "kill"): Promise<void> {
    return this.#life.destroy(mode);
  }

  #start(conn: Conn): void {
    if (this.#life.state !== "up") {
      conn.close();
      return;
    }
    if (this.#sessions.size >= this.#o.maxConnections) {
      this.#stats.connectionsRefused++;
      this.#event({
        type: "refused",
        remote: conn.remoteAddr.hostname,
        reason: "connections",
      });
      const writer = conn.writable.getWriter();
      writer.write(
        new TextEncoder().encode(
          "421 4.3.2 Too many connections, try again later\r\n",
        ),
      ).catch(() => {}).finally(() => conn.close());
      return;
    }
    const id = this.#nextId++;
    const session = new LmtpSession(id, conn, this.#o, {
      event: (e) => this.#event(e),
      error: (sessionId, error) => this.#error(sessionId, error),
    });
    this.#sessions.set(id, session);
    this.#stats.connections++;
    this.#stats.connectionsTotal++;
    this.#life.track(id, session.run());
  }

  #event(event: LmtpdEvent): void {
    const stats = this.#stats;
    const logger = this.#o.logger;
    switch (event.type) {
      case "close":
        stats.bytesIn += event.bytesIn;
        stats.bytesOut += event.bytesOut;
        break;
      case "recipient":
        if (event.status !== "accepted") {
          stats.recipientsRejected++;
          if (logger) {
            safely(() =>
              logger.warn(
                `lmtpd: #${event.id} ${event.remote} recipient <${event.address}> ${event.status}`,
              )
            );
          }
        }
        break;
      case "delivery":
        if (event.outcome === "delivered") stats.delivered++;
        else stats.deliveryFailures++;
        if (logger) {
          const text =
            `lmtpd: #${event.id} ${event.remote} from=<${event.from}> to=${event.user} size=${event.size} ${event.outcome}`;
          safely(() =>
            event.outcome === "delivered"
              ? logger.info(text)
              : logger.warn(text)
          );
        }
        break;
      case "refused":
        if (logger) {
          safely(() =>
            logger.warn(
              `lmtpd: refused ${event.remote}: too many connections`,
            )
          );
        }
        break;
    }
    const onEvent = this.#o.onEvent;
    if (onEvent) safely(() => onEvent(event));
  }

  #error(id: number | undefined, error: unknown): void {
    this.#stats.errors++;
    const onError = this.#o.onError;
    if (onError) safely(() => onError(error));
    const logger = this.#o.logger;
    if (logger) {
      safely(() =>
        logger.error(
          `lmtpd: error${id === undefined ? "" : ` on #${id}`}:`,
          error,
        )
      );
    }
    this.#event({ type: "error", id, error });
  }
}
