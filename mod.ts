/**
 * A POP3 server (RFC 1939, 2449, 3206) for Deno, Bun and Node, with the API
 * of Tcllib's `pop3d`: `up`, `down`, `destroy`, `configure`, `cget`,
 * `conn.list()`, `conn.state(id)`, and auth and storage callbacks.
 *
 * This entry point holds the server, its types and errors, the in-memory
 * backends, `tlsSocket` and the in-memory transport. Other backends have
 * their own entry points, so that this one loads none of their code:
 *
 * - `@x/pop3d/maildir`: `MaildirStorage`, `PasswdFileAuth`, password schemes
 * - `@x/pop3d/postgres`: `PostgresStorage`, `PostgresAuth`, driver adapters
 * - `@x/pop3d/testing`: `TestBackend`, for testing mail clients
 *
 * @example A server with one user and one message
 * ```ts
 * import { MemoryAuth, MemoryStorage, Pop3d } from "@x/pop3d";
 *
 * const auth = new MemoryAuth().addUser("alice", "secret");
 * const storage = new MemoryStorage();
 * storage.deliver("alice", "Subject: hello\r\n\r\nHi Alice\r\n");
 *
 * const server = new Pop3d({ port: 0, hostname: "127.0.0.1", auth, storage });
 * await server.up();
 * console.log(`POP3 on 127.0.0.1:${server.cget("port")}`);
 * await server.destroy("kill");
 * ```
 *
 * @module
 */

export { Pop3d } from "./src/server/pop3d.ts";
export type {
  DestroyMode,
  Pop3dConnections,
  Pop3dConnectionState,
  ServerState,
} from "./src/server/pop3d.ts";
export { DEFAULTS } from "./src/server/options.ts";
export type { Pop3dOptions, ResolvedOptions } from "./src/server/options.ts";
export type {
  CloseReason,
  LoginMethod,
  Pop3dEvent,
} from "./src/server/events.ts";
export type {
  Pop3dLogger,
  Pop3dStats,
  TranscriptEntry,
} from "./src/server/monitor.ts";
export type { ConnectionState } from "./src/session/connection_state.ts";
export type { SessionState } from "./src/session/state.ts";
export type { Pop3dAuth } from "./src/auth/types.ts";
export type { MessageSource, Pop3dStorage } from "./src/storage/types.ts";
export type {
  Conn,
  Listener,
  ListenOptions,
  NetAddr,
  SocketFactory,
  TlsOptions,
} from "./src/transport/types.ts";
export { defaultSocket } from "./src/transport/default_socket.ts";
export { tlsSocket } from "./src/transport/tls_socket.ts";
export type {
  TlsSocketFactory,
  TlsSocketOptions,
} from "./src/transport/tls_socket.ts";
export { replaceTlsCredentials } from "./src/transport/replace_tls_credentials.ts";
export { Pop3Error, Pop3SyntaxError } from "./src/errors.ts";
export type { ResponseCode } from "./src/errors.ts";
export { MemoryAuth } from "./src/auth/memory_auth.ts";
export { MemoryStorage } from "./src/storage/memory_storage.ts";
export type {
  DeliverOptions,
  StoredMessage,
} from "./src/storage/memory_storage.ts";
export { memoryConnPair, memoryListener } from "./src/transport/memory.ts";
export type {
  MemoryClient,
  MemoryConnOptions,
  MemoryListener,
  MemoryListenerOptions,
} from "./src/transport/memory.ts";
export type {
  MaildropHandle,
  MaildropStore,
  OpenMaildropContext,
} from "./src/storage/maildrop_handle.ts";
// LMTP (RFC 2033) and the PROXY protocol (v1/v2): one block, easy to move
// to its own entry point.
export { Lmtpd, LMTPD_DEFAULTS } from "./src/lmtp/lmtpd.ts";
export type {
  LmtpdCloseReason,
  LmtpdConnections,
  LmtpdConnectionState,
  LmtpDelivery,
  LmtpdEvent,
  LmtpdLogger,
  LmtpdOptions,
  LmtpdStats,
  ResolvedLmtpdOptions,
} from "./src/lmtp/lmtpd.ts";
export { LmtpProtocol } from "./src/lmtp/lmtp_protocol.ts";
export type {
  LmtpAction,
  LmtpDeliveryOutcome,
  LmtpProtocolOptions,
  LmtpRecipient,
  LmtpRecipientResult,
} from "./src/lmtp/lmtp_action.ts";
export type { LmtpCommandName, LmtpState } from "./src/lmtp/lmtp_command.ts";
export {
  parseProxyHeader,
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_SIGNATURE,
  ProxyProtocolError,
} from "./src/transport/proxy_protocol.ts";
export type {
  ProxyHeader,
  ProxyParseResult,
} from "./src/transport/proxy_protocol.ts";
export { proxySocket } from "./src/transport/proxy_socket.ts";
export type { ProxySocketOptions } from "./src/transport/proxy_socket.ts";
