/**
 * The POP3 server object: the seed's `up`, `down`, `destroy`, `configure`,
 * `cget` and `conn`.
 *
 * @module
 */

import { err } from "../protocol/reply.ts";
import type { ConnectionState } from "../session/connection_state.ts";
import type { SessionConfig } from "../session/config.ts";
import { Pop3Session } from "../session/session.ts";
import { defaultSocket } from "../transport/default_socket.ts";
import { Monitor, type Pop3dStats } from "./monitor.ts";
import { Admission } from "./admission.ts";
import { addressKey } from "./address_key.ts";
import { AuthPenalty, type AuthPenaltySettings } from "./auth_penalty.ts";
import type { Pop3dEvent } from "./events.ts";
import { sessionConfig } from "./session_config.ts";
import type { Conn } from "../transport/types.ts";
import { ServerLifecycle } from "../_util/server_lifecycle.ts";
import {
  DEFAULTS,
  type Pop3dOptions,
  type ResolvedOptions,
  validateOption,
} from "./options.ts";

/** The server's life: not listening, listening, or destroyed. */
export type ServerState = "down" | "up" | "destroyed";

/** How {@linkcode Pop3d.destroy} treats open connections. */
export type DestroyMode = "kill" | "defer";

/**
 * What `conn.state(id)` tells: the session's snapshot plus what the server
 * knows about the client's address.
 */
export interface Pop3dConnectionState extends ConnectionState {
  /** Milliseconds a failed login from this client's address waits now (the auth penalty). */
  authPenaltyMs: number;
}

/** How long a refused connection may take to hear its one line. */
const REFUSE_DEADLINE = 5000;

function penaltySettings(o: ResolvedOptions<unknown>): AuthPenaltySettings {
  return {
    initial: o.authPenalty === false ? 0 : o.authPenalty,
    max: o.authPenaltyMax,
    window: o.authPenaltyWindow,
    trusted: o.authPenaltyTrusted,
    prefixV6: o.addressPrefixV6,
  };
}

/** The `conn` sub-object of {@linkcode Pop3d}: the seed's `conn list` and `conn state`. */
export interface Pop3dConnections {
  /** Ids of the open connections. */
  list(): number[];
  /**
   * A snapshot of one connection.
   *
   * @throws {RangeError} When no open connection has that id.
   */
  state(id: number | string): Pop3dConnectionState;
}

type OptionName = keyof Pop3dOptions;

function optionName(name: string): string {
  if (typeof name !== "string") {
    throw new TypeError(`Option name must be a string, got ${typeof name}`);
  }
  return name.startsWith("-") ? name.slice(1) : name;
}

/**
 * A POP3 server (RFC 1939, with CAPA, response codes and pipelining) that
 * asks its `auth` and `storage` callbacks for users and mail.
 *
 * @example Serving an in-memory maildrop
 * ```ts
 * import { MemoryAuth, MemoryStorage, Pop3d } from "@x/pop3d";
 *
 * const auth = new MemoryAuth();
 * auth.addUser("alice", "secret");
 * const storage = new MemoryStorage();
 * storage.deliver("alice", "Subject: hello\r\n\r\nHi Alice\r\n");
 *
 * const server = new Pop3d({ port: 0, hostname: "127.0.0.1", auth, storage });
 * await server.up();
 * console.assert(server.cget("port") !== 0);
 * await server.destroy();
 * ```
 */
export class Pop3d<M = unknown> {
  #options: ResolvedOptions<M>;
  #life: ServerLifecycle<Pop3Session<M>>;
  #sessions: Map<number, Pop3Session<M>>;
  #admission = new Admission();
  #penalty: AuthPenalty;
  #nextId = 1;
  #monitor: Monitor;
  #config:
    | { options: ResolvedOptions<M>; config: SessionConfig<M> }
    | undefined;

  /** The open connections: `conn.list()` and `conn.state(id)`. */
  readonly conn: Pop3dConnections;

  /**
   * Creates a server; it listens only after {@linkcode Pop3d.up}.
   *
   * @param options Port, hostname, callbacks and limits; see {@linkcode Pop3dOptions}.
   * @throws {TypeError} For an unknown option or a value of the wrong type.
   * @throws {RangeError} For a value out of range.
   */
  constructor(options: Pop3dOptions<M> = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Options must be an object");
    }
    const resolved = { ...DEFAULTS } as ResolvedOptions<M>;
    for (const [name, value] of Object.entries(options)) {
      if (value === undefined) continue;
      validateOption(name, value);
      (resolved as Record<string, unknown>)[name] = value;
    }
    this.#options = resolved;
    this.#life = new ServerLifecycle({
      listen: () => {
        const o = this.#options;
        return (o.socket ?? defaultSocket)({
          hostname: o.hostname,
          port: o.port,
          ...(o.reusePort ? { reusePort: true } : {}),
          ...(o.tls ? { tls: o.tls } : {}),
        });
      },
      accept: (conn) => this.#start(conn),
      error: (error) => this.#report(error),
      ended: (id) => this.#admission.remove(id),
    });
    this.#sessions = this.#life.sessions;
    this.#penalty = new AuthPenalty(penaltySettings(resolved));
    this.#monitor = new Monitor(resolved, (event) => this.#observe(event));
    const sessions = this.#sessions;
    this.conn = {
      list: () => [...sessions.keys()],
      state: (id) => {
        const session = this.#life.session(id);
        const info = session.info();
        const authPenaltyMs = this.#penalty.delayFor(info.remoteAddress);
        return { ...info, authPenaltyMs };
      },
    };
  }

  /** `"down"`, `"up"` or `"destroyed"`. */
  get state(): ServerState {
    return this.#life.state;
  }

  /**
   * Starts listening. Resolves once the socket is bound; `cget("port")` then
   * gives the real port. Calling it while up does nothing.
   *
   * @throws {Error} After `destroy()`, or when the socket cannot be bound.
   */
  up(): Promise<void> {
    return this.#life.up();
  }

  /** Stops listening. Open sessions go on. */
  down(): Promise<void> {
    return this.#life.down();
  }

  /**
   * Stops listening and ends the server. `"kill"` (the default) closes
   * every session now: locks are released and nothing is deleted. `"defer"`
   * lets the open sessions finish and resolves when the last has ended.
   *
   * @throws {TypeError} For another mode.
   */
  destroy(mode: DestroyMode = "kill"): Promise<void> {
    return this.#life.destroy(mode);
  }

  /**
   * Reads or sets options, like the seed's `configure`:
   * - `configure()` returns every option and its value, plus the read-only `state`;
   * - `configure("port")` returns one value (an alias of `cget`);
   * - `configure({ port: 1110 })` or `configure("port", 1110)` sets values.
   *
   * While up, a new `port` or `hostname` takes effect after `down()` and
   * `up()`; `cget("port")` reports the bound port until then. Other options
   * apply to connections accepted after the call.
   *
   * @throws {TypeError} For an unknown or read-only option or a wrong type.
   * @throws {RangeError} For a value out of range.
   *
   * @example
   * ```ts
   * import { Pop3d } from "@x/pop3d";
   * const server = new Pop3d({ port: 0 });
   * server.configure({ idleTimeout: 900_000 });
   * console.assert(server.configure("idleTimeout") === 900_000);
   * ```
   */
  configure(): Record<string, unknown>;
  /** Returns the value of one option (an alias of {@linkcode Pop3d.cget}). */
  configure(name: string): unknown;
  /** Sets one option. */
  configure(name: string, value: unknown): this;
  /** Sets several options. */
  configure(values: Pop3dOptions<M>): this;
  configure(arg?: string | Pop3dOptions<M>, ...rest: unknown[]): unknown {
    if (arg === undefined) {
      const all: Record<string, unknown> = {};
      for (const name of Object.keys(DEFAULTS)) all[name] = this.cget(name);
      all.state = this.#life.state;
      return all;
    }
    if (typeof arg === "string") {
      if (rest.length === 0) return this.cget(arg);
      return this.configure({ [optionName(arg)]: rest[0] } as Pop3dOptions<M>);
    }
    if (arg === null || typeof arg !== "object") {
      throw new TypeError(
        "configure() takes an option name or an object of options",
      );
    }
    const entries = Object.entries(arg).map(([k, v]) =>
      [optionName(k), v] as const
    );
    for (const [name, value] of entries) {
      validateOption(name, value === undefined ? null : value);
    }
    const next = { ...this.#options } as Record<string, unknown>;
    for (const [name, value] of entries) {
      next[name] = value ?? (DEFAULTS as Record<string, unknown>)[name];
    }
    this.#options = next as ResolvedOptions<M>;
    this.#monitor.setHooks(this.#options);
    this.#penalty.configure(penaltySettings(this.#options));
    return this;
  }

  /**
   * Returns the value of one option. `port` is the bound port while up.
   *
   * @throws {TypeError} For an unknown option.
   *
   * @example
   * ```ts
   * import { Pop3d } from "@x/pop3d";
   * console.assert(new Pop3d().cget("port") === 110);
   * ```
   */
  cget(name: string): unknown {
    const key = optionName(name);
    if (key === "state") return this.#life.state;
    if (!Object.hasOwn(DEFAULTS, key)) {
      throw new TypeError(`Unknown option: "${name}"`);
    }
    const listener = this.#life.listener;
    if (key === "port" && listener) return listener.addr.port;
    return this.#options[key as OptionName];
  }

  /**
   * Counters since the server was created: connections, logins, messages
   * and bytes sent, errors.
   *
   * @example
   * ```ts
   * import { Pop3d } from "@x/pop3d";
   * console.assert(new Pop3d().stats().loginsOk === 0);
   * ```
   */
  stats(): Pop3dStats {
    return { ...this.#monitor.snapshot(), authPenalties: this.#penalty.size };
  }

  /**
   * Counts a login that another server saw, one that serves the same
   * clients (a worker thread of the same program, a process sharing the
   * port with `reusePort`), in this server's auth penalty: a failure with
   * wrong credentials raises the penalty of `remote` here as if it had
   * failed here, a success clears it. Without this an attacker gets each
   * server's allowance of guesses.
   *
   * @param remote The client's address, as in the `login` and
   * `login-failed` events.
   * @param ok Whether the login succeeded.
   * @throws {TypeError} When `remote` is not a string or `ok` not a boolean.
   *
   * @example A failure seen elsewhere penalises the address here
   * ```ts
   * import { Pop3d } from "@x/pop3d";
   * const server = new Pop3d({ authPenalty: 1000 });
   * server.recordLoginOutcome("192.0.2.7", false);
   * console.assert(server.stats().authPenalties === 1);
   * ```
   */
  recordLoginOutcome(remote: string, ok: boolean): void {
    if (typeof remote !== "string" || typeof ok !== "boolean") {
      throw new TypeError(
        "recordLoginOutcome(remote, ok): remote must be a string and ok a boolean",
      );
    }
    if (ok) this.#penalty.succeeded(remote);
    else this.#penalty.failed(remote);
  }

  #start(conn: Conn): void {
    const o = this.#options;
    const address = conn.remoteAddr.hostname;
    if (this.#life.state !== "up") {
      conn.close();
      return;
    }
    const id = this.#nextId++;
    const key = addressKey(address, o.addressPrefixV6);
    const decision = this.#admission.admit(id, key, o);
    if (!decision.admit) {
      this.#monitor.refused(address);
      const text = decision.cap === "total"
        ? "Too many connections, try again later"
        : "Too many connections from your address";
      const deadline = setTimeout(() => conn.close(), REFUSE_DEADLINE);
      Pop3Session.refuse(conn, err(text, "SYS/TEMP"))
        .finally(() => clearTimeout(deadline));
      return;
    }
    for (const victim of decision.evict) {
      const old = this.#sessions.get(victim);
      this.#sessions.delete(victim);
      if (!old) continue;
      this.#monitor.evicted(old.info().remoteAddress);
      old.kill("evicted");
    }
    const session = new Pop3Session(
      id,
      conn,
      this.#sessionConfig(),
      this.#monitor,
    );
    this.#sessions.set(id, session);
    this.#life.track(id, session.run());
  }

  /**
   * The configuration of new sessions: one object for every session
   * accepted under the same options (built again after `configure`), not
   * one per connection.
   */
  #sessionConfig(): SessionConfig<M> {
    const o = this.#options;
    if (this.#config?.options === o) return this.#config.config;
    const penalty = this.#penalty;
    const config = sessionConfig(
      o,
      (remote) => Math.max(o.authFailureDelay, penalty.delayFor(remote)),
    );
    this.#config = { options: o, config };
    return config;
  }

  /** Server bookkeeping fed by session events: logins and failures. */
  #observe(event: Pop3dEvent): void {
    if (event.type === "login") {
      this.#admission.loggedIn(event.id);
      this.#penalty.succeeded(event.remote);
    } else if (
      event.type === "login-failed" && event.reason === "credentials"
    ) {
      this.#penalty.failed(event.remote);
    }
  }

  #report(error: unknown): void {
    this.#monitor.error(undefined, error);
  }
}
