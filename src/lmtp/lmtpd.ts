/**
 * The LMTP server (RFC 2033): mail in from an MTA (Postfix `lmtp:`, Exim,
 * OpenSMTPD), delivered into the same storage that {@linkcode Pop3d}
 * serves.
 *
 * @module
 */

import type { Pop3dAuth } from "../auth/types.ts";
import { defaultSocket } from "../transport/default_socket.ts";
import type { Conn, Listener, SocketFactory } from "../transport/types.ts";
import type { LmtpState } from "./lmtp_command.ts";
import { LmtpSession } from "./lmtp_session.ts";

/**
 * Where {@linkcode Lmtpd} puts mail: any object with a `deliver` method.
 * `MemoryStorage`, `PostgresStorage` and `MaildirDeliver` have one.
 *
 * `deliver` gets the storage reference from the auth's `lookup` and the
 * message bytes exactly as received (dot-unstuffed, CRLF line ends). It
 * must not change the bytes. When it resolves, the message is accepted and
 * the MTA forgets it; when it throws or rejects (or times out), the
 * recipient gets `451 4.3.0` and the MTA tries again later.
 *
 * @example A delivery target over a Map
 * ```ts
 * import type { LmtpDelivery } from "@x/pop3d";
 *
 * const boxes = new Map<string, Uint8Array[]>();
 * const target: LmtpDelivery<string> = {
 *   deliver(mbox, message) {
 *     boxes.set(mbox, [...(boxes.get(mbox) ?? []), message.slice()]);
 *   },
 * };
 * ```
 */
export interface LmtpDelivery<M = unknown> {
  /** Stores one message for one maildrop. */
  deliver(mbox: M, message: Uint8Array): unknown;
}

/** Why an LMTP connection closed. */
export type LmtpdCloseReason =
  | "quit"
  | "client"
  | "timeout"
  | "limit"
  | "killed"
  | "error";

/**
 * One event of {@linkcode Lmtpd}, for the `onEvent` option. Session events
 * carry the connection id and the client's address (`remote`): with
 * `proxySocket`, the address from the PROXY header.
 *
 * @example Logging deliveries
 * ```ts
 * import { Lmtpd, type LmtpdEvent } from "@x/pop3d";
 * const server = new Lmtpd({
 *   port: 0,
 *   onEvent: (e: LmtpdEvent) => {
 *     if (e.type === "delivery") console.log(e.user, e.outcome, e.size);
 *   },
 * });
 * ```
 */
export type LmtpdEvent =
  | { type: "open"; id: number; remote: string; encrypted: boolean }
  | {
    type: "close";
    id: number;
    remote: string;
    reason: LmtpdCloseReason;
    bytesIn: number;
    bytesOut: number;
    durationMs: number;
  }
  | {
    type: "recipient";
    id: number;
    remote: string;
    address: string;
    user: string | undefined;
    status: "accepted" | "unknown" | "temporary";
  }
  | {
    type: "delivery";
    id: number;
    remote: string;
    from: string;
    user: string;
    size: number;
    outcome: "delivered" | "temporary";
    durationMs: number;
  }
  | { type: "refused"; remote: string; reason: "connections" }
  | { type: "error"; id: number | undefined; error: unknown };

/** Counters of an {@linkcode Lmtpd} since it was created. */
export interface LmtpdStats {
  /** Open connections now. */
  connections: number;
  /** Connections accepted in total. */
  connectionsTotal: number;
  /** Connections refused by `maxConnections`. */
  connectionsRefused: number;
  /** Messages stored (one per recipient). */
  delivered: number;
  /** Deliveries that failed (the recipient got `451`). */
  deliveryFailures: number;
  /** Recipients refused (`550 5.1.1` or `451`). */
  recipientsRejected: number;
  /** Octets received. */
  bytesIn: number;
  /** Octets sent. */
  bytesOut: number;
  /** Errors reported to `onError`. */
  errors: number;
}

/** A snapshot of one LMTP connection, from {@linkcode Lmtpd.conn}. */
export interface LmtpdConnectionState {
  /** The connection id. */
  id: number;
  /** The client's address (from the PROXY header behind `proxySocket`). */
  remoteAddress: string;
  /** The client's port. */
  remotePort: number;
  /** Whether the connection is inside TLS. */
  encrypted: boolean;
  /** Where the protocol stands. */
  state: LmtpState;
  /** Whether the message is being received. */
  inData: boolean;
  /** The sender of the current transaction (`""` for `<>` or none). */
  from: string;
  /** Accepted recipients of the current transaction. */
  recipients: number;
  /** Messages stored by this connection (one per recipient). */
  delivered: number;
  /** Octets received. */
  bytesIn: number;
  /** Octets sent. */
  bytesOut: number;
  /** When the connection opened, in milliseconds since the epoch. */
  startTime: number;
}

/** A `console`-like logger for {@linkcode LmtpdOptions.logger}. */
export interface LmtpdLogger {
  /** Deliveries, connections. */
  info(...data: unknown[]): void;
  /** Refused recipients and connections. */
  warn(...data: unknown[]): void;
  /** Errors. */
  error(...data: unknown[]): void;
}

/** Options of {@linkcode Lmtpd}. All are optional. */
export interface LmtpdOptions<M = unknown> {
  /**
   * Port to listen on; 0 lets the operating system choose.
   *
   * @default {24}
   */
  port?: number;
  /**
   * Interface to bind. LMTP has no authentication: keep it on loopback or
   * an internal network.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * Decides which recipients exist (`exists`) and their storage reference
   * (`lookup`); the same object `Pop3d` takes. Without it every recipient
   * gets `550 5.1.1`.
   */
  auth?: Pop3dAuth<M> | null;
  /** Stores the mail. Without it every delivery fails with `451 4.3.0`. */
  storage?: LmtpDelivery<M> | null;
  /** Opens the listening socket; e.g. `tlsSocket(...)` or `proxySocket(...)`. */
  socket?: SocketFactory | null;
  /**
   * Maps a recipient address to a user name for the auth; `null` or `""`
   * answers `550 5.1.1`.
   *
   * @default {the local part: `alice` for `alice@example.org`}
   */
  recipientUser?:
    | ((address: string) => string | null | Promise<string | null>)
    | null;
  /**
   * The host name in the greeting and LHLO reply.
   *
   * @default {"localhost"}
   */
  serverName?: string;
  /**
   * Largest message in octets (announced as `SIZE`); a larger one gets
   * `552 5.3.4`. A message is held in memory until delivered.
   *
   * @default {33554432}
   */
  maxMessageSize?: number;
  /**
   * Recipients per transaction; more get `452 4.5.3`.
   *
   * @default {100}
   */
  maxRecipients?: number;
  /**
   * Longest command line in octets, including CRLF (RFC 5321: at least 512).
   *
   * @default {1000}
   */
  maxLineLength?: number;
  /**
   * Bad commands before the connection is closed with `421 4.7.0`.
   *
   * @default {20}
   */
  maxBadCommands?: number;
  /**
   * Open connections; more get `421 4.3.2` and are closed.
   *
   * @default {100}
   */
  maxConnections?: number;
  /**
   * Milliseconds to wait for a command (RFC 5321 §4.5.3.2: 5 minutes).
   *
   * @default {300000}
   */
  idleTimeout?: number;
  /**
   * Milliseconds to wait for more of the message during DATA.
   *
   * @default {600000}
   */
  dataTimeout?: number;
  /**
   * Milliseconds an auth call or a delivery may take; then the recipient
   * gets `451 4.3.0`.
   *
   * @default {30000}
   */
  callbackTimeout?: number;
  /**
   * Milliseconds a write to the client may stall.
   *
   * @default {60000}
   */
  writeTimeout?: number;
  /** Receives errors from callbacks and transports. */
  onError?: ((error: unknown) => void) | null;
  /** Receives structured events. */
  onEvent?: ((event: LmtpdEvent) => void) | null;
  /** A `console`-like logger: one line per delivery, refusal and error. */
  logger?: LmtpdLogger | null;
}

/** Every option of {@linkcode Lmtpd} with its value filled in. */
export type ResolvedLmtpdOptions<M = unknown> = Required<LmtpdOptions<M>>;

/** The defaults of {@linkcode LmtpdOptions}. */
export const LMTPD_DEFAULTS: Readonly<ResolvedLmtpdOptions<unknown>> = Object
  .freeze({
    port: 24,
    hostname: "127.0.0.1",
    auth: null,
    storage: null,
    socket: null,
    recipientUser: null,
    serverName: "localhost",
    maxMessageSize: 32 * 1024 * 1024,
    maxRecipients: 100,
    maxLineLength: 1000,
    maxBadCommands: 20,
    maxConnections: 100,
    idleTimeout: 300_000,
    dataTimeout: 600_000,
    callbackTimeout: 30_000,
    writeTimeout: 60_000,
    onError: null,
    onEvent: null,
    logger: null,
  });

const MAX_TIMER = 2_147_483_647;

function checkInteger(
  name: string,
  value: unknown,
  min: number,
  max: number,
): void {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(
      `Option "${name}" must be an integer, got ${typeof value}`,
    );
  }
  if (value < min || value > max) {
    throw new RangeError(
      `Option "${name}" must be between ${min} and ${max}, got ${value}`,
    );
  }
}

function checkOption(name: string, value: unknown): void {
  const fn = (v: unknown) => v === null || typeof v === "function";
  switch (name) {
    case "port":
      return checkInteger(name, value, 0, 65535);
    case "hostname":
    case "serverName":
      if (typeof value !== "string" || !/^[!-~]+$/.test(value)) {
        throw new TypeError(`Option "${name}" must be a host name`);
      }
      return;
    case "maxMessageSize":
      return checkInteger(name, value, 1, 1024 * 1024 * 1024);
    case "maxRecipients":
    case "maxBadCommands":
    case "maxConnections":
      return checkInteger(name, value, 1, 1_000_000);
    case "maxLineLength":
      return checkInteger(name, value, 512, 65_536);
    case "idleTimeout":
    case "dataTimeout":
    case "callbackTimeout":
    case "writeTimeout":
      return checkInteger(name, value, 1, MAX_TIMER);
    case "auth":
      if (value === null) return;
      for (const m of ["exists", "lookup"]) {
        if (typeof (value as Record<string, unknown>)?.[m] !== "function") {
          throw new TypeError(`Option "auth" must have a "${m}" method`);
        }
      }
      return;
    case "storage":
      if (value === null) return;
      if (typeof (value as Record<string, unknown>)?.deliver !== "function") {
        throw new TypeError(`Option "storage" must have a "deliver" method`);
      }
      return;
    case "logger":
      if (value === null) return;
      for (const m of ["info", "warn", "error"]) {
        if (typeof (value as Record<string, unknown>)?.[m] !== "function") {
          throw new TypeError(`Option "logger" must have a "${m}" method`);
        }
      }
      return;
    case "socket":
    case "recipientUser":
    case "onError":
    case "onEvent":
      if (!fn(value)) {
        throw new TypeError(`Option "${name}" must be a function`);
      }
      return;
    default:
      throw new TypeError(`Unknown option: "${name}"`);
  }
}

/** The `conn` sub-object of {@linkcode Lmtpd}. */
export interface LmtpdConnections {
  /** Ids of the open connections. */
  list(): number[];
  /**
   * A snapshot of one connection.
   *
   * @throws {RangeError} When no open connection has that id.
   */
  state(id: number | string): LmtpdConnectionState;
}

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
  #state: "down" | "up" | "destroyed" = "down";
  #listener: Listener | undefined;
  #acceptLoop: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  #sessions = new Map<number, LmtpSession<M>>();
  #running = new Map<number, Promise<void>>();
  #nextId = 1;
  #destroying: Promise<void> | undefined;
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
      checkOption(name, value);
      resolved[name] = value;
    }
    this.#o = resolved as ResolvedLmtpdOptions<M>;
    const sessions = this.#sessions;
    this.conn = {
      list: () => [...sessions.keys()],
      state: (id) => {
        const session = sessions.get(typeof id === "string" ? Number(id) : id);
        if (!session) throw new RangeError(`Unknown connection: ${String(id)}`);
        return session.info();
      },
    };
  }

  /** `"down"`, `"up"` or `"destroyed"`. */
  get state(): "down" | "up" | "destroyed" {
    return this.#state;
  }

  /** The bound port while up, else the configured one. */
  get port(): number {
    return this.#listener?.addr.port ?? this.#o.port;
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
  async up(): Promise<void> {
    if (this.#state === "destroyed") {
      throw new Error("Cannot start a destroyed server");
    }
    if (this.#starting) return this.#starting;
    if (this.#listener) return;
    const socket = this.#o.socket ?? defaultSocket;
    this.#starting = (async () => {
      const listener = await socket({
        hostname: this.#o.hostname,
        port: this.#o.port,
      });
      this.#listener = listener;
      this.#state = "up";
      this.#acceptLoop = this.#accept(listener);
    })();
    try {
      await this.#starting;
    } finally {
      this.#starting = undefined;
    }
  }

  /** Stops listening; open sessions go on. */
  async down(): Promise<void> {
    if (this.#starting) await this.#starting.catch(() => {});
    const listener = this.#listener;
    if (!listener) return;
    this.#listener = undefined;
    if (this.#state === "up") this.#state = "down";
    try {
      await listener.close();
    } catch (error) {
      this.#error(undefined, error);
    }
    await this.#acceptLoop;
    this.#acceptLoop = undefined;
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
    if (mode !== "kill" && mode !== "defer") {
      return Promise.reject(
        new TypeError(`Invalid destroy mode: "${String(mode)}"`),
      );
    }
    if (mode === "kill") {
      for (const session of this.#sessions.values()) session.kill();
    }
    if (this.#destroying) return this.#destroying;
    this.#destroying = (async () => {
      await this.down();
      this.#state = "destroyed";
      while (this.#running.size > 0) await Promise.all(this.#running.values());
    })();
    return this.#destroying;
  }

  async #accept(listener: Listener): Promise<void> {
    try {
      for await (const conn of listener) this.#start(conn);
    } catch (error) {
      if (this.#listener === listener) this.#error(undefined, error);
    }
  }

  #start(conn: Conn): void {
    if (this.#state !== "up") {
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
    const running = session.run().finally(() => {
      this.#sessions.delete(id);
      this.#running.delete(id);
      this.#stats.connections--;
    });
    this.#running.set(id, running);
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
