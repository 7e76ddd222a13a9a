/**
 * A POP3 server (RFC 1939, 2449, 3206) for Deno, Bun and Node, with the API
 * of Tcllib's `pop3d`: `up`, `down`, `destroy`, `configure`, `cget`,
 * `conn.list()`, `conn.state(id)`, and auth and storage callbacks.
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
export type { TlsSocketOptions } from "./src/transport/tls_socket.ts";
export { Pop3Error, Pop3SyntaxError } from "./src/errors.ts";
export type { ResponseCode } from "./src/errors.ts";
export { MemoryAuth } from "./src/auth/memory_auth.ts";
export { MemoryStorage, toCrlf } from "./src/storage/memory_storage.ts";
export type {
  DeliverOptions,
  StoredMessage,
} from "./src/storage/memory_storage.ts";
export { TestBackend } from "./src/testing/test_backend.ts";
export type {
  BackendCall,
  BackendMethod,
  Deletion,
  FaultOptions,
  InjectedFault,
  Retrieval,
  RetrievalStatus,
  TestBackendOptions,
} from "./src/testing/test_backend.ts";
export { InjectedFaultError } from "./src/testing/injected_fault_error.ts";
export {
  MAILDIR_LOCK_NAME,
  MaildirStorage,
} from "./src/maildir/maildir_storage.ts";
export type { MaildirStorageOptions } from "./src/maildir/maildir_storage.ts";
export type { MaildirFileInfo, MaildirFs } from "./src/maildir/maildir_fs.ts";
export {
  parsePasswdFile,
  PasswdFileAuth,
} from "./src/auth/passwd_file_auth.ts";
export type {
  PasswdEntry,
  PasswdFileAuthOptions,
} from "./src/auth/passwd_file_auth.ts";
export {
  hashPassword,
  PASSWORD_SCHEMES,
  passwordScheme,
  verifyPassword,
} from "./src/auth/password_scheme.ts";
export type {
  HashPasswordOptions,
  HashScheme,
} from "./src/auth/password_scheme.ts";
export { memoryConnPair, memoryListener } from "./src/transport/memory.ts";
export type {
  MemoryClient,
  MemoryConnOptions,
  MemoryListener,
  MemoryListenerOptions,
} from "./src/transport/memory.ts";
export {
  createSchema,
  POSTGRES_SCHEMA,
  POSTGRES_SCHEMA_STATEMENTS,
} from "./src/postgres/schema.ts";
export {
  LeaseLostError,
  PostgresStorage,
} from "./src/postgres/postgres_storage.ts";
export type {
  PgDeliverOptions,
  PgDelivery,
  PostgresStorageOptions,
} from "./src/postgres/postgres_storage.ts";
export { PostgresAuth } from "./src/postgres/postgres_auth.ts";
export type {
  PgAddUserOptions,
  PostgresAuthOptions,
} from "./src/postgres/postgres_auth.ts";
export type { PgHashPasswordOptions } from "./src/postgres/password_hash.ts";
export {
  fromDenoPostgres,
  fromPg,
  fromPostgresJs,
} from "./src/postgres/adapters.ts";
export type {
  DenoPostgresClient,
  DenoPostgresPool,
  NodePgPool,
  NodePgPoolClient,
  PostgresJsRootSql,
  PostgresJsSql,
} from "./src/postgres/adapters.ts";
export type {
  PgClient,
  PgMailbox,
  PgQueryable,
  PgResult,
} from "./src/postgres/types.ts";
export type {
  MaildropHandle,
  MaildropStore,
  OpenMaildropContext,
} from "./src/storage/maildrop_handle.ts";
// Dovecot's and Courier's UIDL sources for Maildirs (one block: it moves to
// the `./maildir` entry point later).
export {
  compileDovecotUidlFormat,
  DOVECOT_DEFAULT_UIDL_FORMAT,
} from "./src/maildir/dovecot_uidl_format.ts";
export {
  assignDovecotUids,
  compareDovecotNames,
  dovecotBaseName,
  dovecotPop3View,
  formatDovecotUidlist,
  formatDovecotUidlistRecords,
  parseDovecotUidlist,
} from "./src/maildir/dovecot_uidlist.ts";
export type {
  DovecotPop3Message,
  DovecotPop3View,
  DovecotPop3ViewOptions,
  DovecotUidlist,
  DovecotUidlistRecord,
} from "./src/maildir/dovecot_uidlist.ts";
export {
  DOVECOT_UIDLIST_LOCK_NAME,
  DOVECOT_UIDLIST_NAME,
  loadDovecotUidls,
} from "./src/maildir/dovecot_uidlist_file.ts";
export type {
  DovecotUidl,
  DovecotUidlOptions,
  DovecotUidls,
} from "./src/maildir/dovecot_uidlist_file.ts";
export {
  COURIER_SIZELIST_NAME,
  courierPop3View,
  loadCourierUidls,
  parseCourierSizelist,
} from "./src/maildir/courier_sizelist.ts";
export type {
  CourierSizelist,
  CourierSizelistEntry,
  CourierUidl,
} from "./src/maildir/courier_sizelist.ts";
