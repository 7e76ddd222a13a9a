/**
 * Options of {@linkcode Pop3d}, their defaults and their validation.
 *
 * @module
 */

import type { Pop3dAuth } from "../auth/types.ts";
import type { Pop3dStorage } from "../storage/types.ts";
import type { MaildropStore } from "../storage/maildrop_handle.ts";
import type { SocketFactory, TlsOptions } from "../transport/types.ts";
import type { Pop3dEvent } from "./events.ts";
import type { Pop3dLogger, TranscriptEntry } from "./monitor.ts";

/**
 * Options for {@linkcode Pop3d}. All are optional; every limit has a safe
 * default.
 */
export interface Pop3dOptions<M = unknown> {
  /**
   * Port to listen on; 0 lets the operating system choose.
   *
   * @default {110}
   */
  port?: number;
  /**
   * Interface to bind.
   *
   * @default {"0.0.0.0"}
   */
  hostname?: string;
  /**
   * Lets several servers (processes) listen on the same port, the kernel
   * spreading new connections over them (`SO_REUSEPORT`, Linux and the
   * BSDs): one server runs on one core, so a machine with more cores runs
   * one per core. Each server keeps its own limits, penalties and metrics;
   * `Pop3d.recordLoginOutcome` lets them share the auth penalty.
   * On Deno the listener is then Deno's own when the process runs with
   * `--unstable-net` (which that needs), else `node:net`'s, which costs
   * more per connection.
   *
   * @default {false}
   */
  reusePort?: boolean;
  /** Decides who may log in and which maildrop they get. Without it, every login is rejected. */
  auth?: Pop3dAuth<M> | null;
  /**
   * Serves the maildrops: the seed's by-mbox callbacks, or a store that
   * opens per-session handles (`openMaildrop`, as the built-in backends
   * do). Without it, every maildrop is empty.
   */
  storage?: Pop3dStorage<M> | MaildropStore<M> | null;
  /** Opens the listening socket (the seed's `-socket`). Default: the host runtime's TCP listener. */
  socket?: SocketFactory | null;
  /** TLS credentials for STLS (advertised only when the transport can upgrade). */
  tls?: TlsOptions | null;
  /**
   * When passwords may cross the wire in the clear (USER/PASS, SASL PLAIN
   * and LOGIN, bearer tokens): `"always"`; `"loopback"`, on loopback
   * connections or after TLS; or `"tls"`, only inside TLS. When refused,
   * USER and those mechanisms are not advertised and attempts get
   * `-ERR [AUTH]`. APOP, CRAM-MD5 and SCRAM never send the password.
   *
   * @default {"loopback"}
   */
  plaintextAuth?: "always" | "loopback" | "tls";
  /**
   * Host name in the APOP timestamp of the greeting.
   *
   * @default {"localhost"}
   */
  serverName?: string;
  /**
   * Text of the greeting before the APOP timestamp. It names no software or
   * version unless you put them here.
   *
   * @default {"POP3 server ready"}
   */
  greeting?: string;
  /**
   * The CAPA `IMPLEMENTATION` text; empty to leave the line out.
   *
   * @default {"x-pop3d"}
   */
  implementation?: string;
  /**
   * Milliseconds a logged-in session may wait for a command (RFC 1939: at least 10 minutes).
   *
   * @default {600000}
   */
  idleTimeout?: number;
  /**
   * Milliseconds from connect to a successful login, whatever the client
   * sends meanwhile (Dovecot allows 3 minutes). Silence before login is
   * also bounded by `idleTimeout`.
   *
   * @default {60000}
   */
  loginTimeout?: number;
  /**
   * Milliseconds an auth or storage callback may take before the client gets `-ERR [SYS/TEMP]`.
   *
   * @default {30000}
   */
  callbackTimeout?: number;
  /**
   * Milliseconds a write to the client may go without the connection
   * accepting a single byte before the connection is closed; it also holds
   * for the last replies after QUIT or a limit. A slow but steady reader is
   * never cut off.
   *
   * @default {60000}
   */
  writeTimeout?: number;
  /**
   * Longest command line in octets, including CRLF (RFC 2449: 255).
   *
   * @default {255}
   */
  maxLineLength?: number;
  /**
   * Longest AUTH line or SASL response in octets (OAuth tokens are long).
   *
   * @default {16384}
   */
  maxAuthLineLength?: number;
  /**
   * Bad commands a session may send before it is disconnected.
   *
   * @default {20}
   */
  maxBadCommands?: number;
  /**
   * Failed logins a session may make before it is disconnected.
   *
   * @default {5}
   */
  maxAuthFailures?: number;
  /**
   * Milliseconds from the start of a failed login attempt to its answer
   * (slows password guessing). Every failure is answered at this time
   * whatever the check cost, so timing does not tell which users exist.
   *
   * @default {1000}
   */
  authFailureDelay?: number;
  /**
   * Open connections in total, counted from accept (TLS handshakes
   * included). At the cap, the oldest connection that has not logged in is
   * closed to admit a new one; only when every connection has logged in is
   * the new one answered `-ERR [SYS/TEMP]` and closed.
   *
   * @default {1000}
   */
  maxConnections?: number;
  /**
   * Open connections from one client address (IPv6: one prefix of
   * `addressPrefixV6` bits), with the same eviction as `maxConnections`.
   *
   * @default {100}
   */
  maxConnectionsPerAddress?: number;
  /**
   * Bits of an IPv6 address that name one client, for
   * `maxConnectionsPerAddress` and the auth penalty (IPv4 counts by full
   * address, also when IPv4-mapped).
   *
   * @default {64}
   */
  addressPrefixV6?: number;
  /**
   * Per-address penalty on failed logins (like Dovecot's `auth_penalty`):
   * milliseconds after the first recent failure from an address, doubling
   * with each further one up to `authPenaltyMax`. A failed login is answered
   * after the larger of this penalty and `authFailureDelay`. `false` or 0
   * disables it.
   *
   * @default {1000}
   */
  authPenalty?: number | false;
  /**
   * The most milliseconds of auth penalty.
   *
   * @default {15000}
   */
  authPenaltyMax?: number;
  /**
   * Milliseconds after the last failure from an address when its failures
   * are forgotten (a successful login from it forgets them at once).
   *
   * @default {3600000}
   */
  authPenaltyWindow?: number;
  /**
   * CIDR blocks (`"10.0.0.0/8"`, `"2001:db8::/32"`) whose clients get no
   * auth penalty. Loopback is not exempt unless listed.
   *
   * @default {[]}
   */
  authPenaltyTrusted?: readonly string[];
  /** Receives errors thrown by callbacks and transports (never sent to clients). */
  onError?: ((error: unknown) => void) | null;
  /** Receives structured events; cheap when not set. */
  onEvent?: ((event: Pop3dEvent) => void) | null;
  /** A `console`-like logger; silent when not set. Never receives passwords. */
  logger?: Pop3dLogger | null;
  /**
   * Receives every command and reply line, for debugging a client. Passwords
   * and SASL data are redacted by construction; message bodies are left out.
   */
  transcript?: ((entry: TranscriptEntry) => void) | null;
  /**
   * Announces the RFC 2449 `EXPIRE` policy in CAPA: days that retrieved mail
   * is kept, or `"NEVER"`. Announcing only: deleting is up to the storage.
   */
  expire?: number | "NEVER" | null;
  /**
   * Announces the RFC 2449 `LOGIN-DELAY` in CAPA, in seconds. Announcing
   * only: an auth or storage callback may enforce it by throwing
   * `new Pop3Error(text, "LOGIN-DELAY")`.
   */
  loginDelay?: number | null;
  /**
   * Sends each NUL octet of a message as 0x80 in RETR and TOP, because
   * Outlook stops reading at a NUL (Dovecot's `outlook-no-nuls`). One octet
   * for one: sizes stay right.
   *
   * @default {false}
   */
  outlookNoNuls?: boolean;
  /**
   * Sends an empty line after a message that has none after its headers
   * (a message that is only headers), in RETR and TOP, because Outlook
   * Express and Netscape need it (Dovecot's `oe-ns-eoh`). Like Dovecot,
   * LIST, STAT and RETR's `+OK n octets` keep the stored size: such a
   * message is sent 2 octets longer than announced.
   *
   * @default {false}
   */
  oeNsEoh?: boolean;
}

/** Every option with its value filled in. */
export type ResolvedOptions<M = unknown> = Required<Pop3dOptions<M>>;

/** The defaults of {@linkcode Pop3dOptions}. */
export const DEFAULTS: Readonly<ResolvedOptions<unknown>> = Object.freeze({
  port: 110,
  hostname: "0.0.0.0",
  reusePort: false,
  auth: null,
  storage: null,
  socket: null,
  tls: null,
  plaintextAuth: "loopback",
  serverName: "localhost",
  greeting: "POP3 server ready",
  implementation: "x-pop3d",
  idleTimeout: 600_000,
  loginTimeout: 60_000,
  callbackTimeout: 30_000,
  writeTimeout: 60_000,
  maxLineLength: 255,
  maxAuthLineLength: 16_384,
  maxBadCommands: 20,
  maxAuthFailures: 5,
  authFailureDelay: 1000,
  maxConnections: 1000,
  maxConnectionsPerAddress: 100,
  addressPrefixV6: 64,
  authPenalty: 1000,
  authPenaltyMax: 15_000,
  authPenaltyWindow: 3_600_000,
  authPenaltyTrusted: Object.freeze([]) as readonly string[],
  onError: null,
  onEvent: null,
  logger: null,
  transcript: null,
  expire: null,
  loginDelay: null,
  outlookNoNuls: false,
  oeNsEoh: false,
});

export { validateOption } from "./validate_option.ts";
