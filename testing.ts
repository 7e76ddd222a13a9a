/**
 * {@linkcode TestBackend}: users and maildrops in memory for testing POP3
 * clients, with a record of what the server read and deleted, and faults a
 * test can turn on (delays, `-ERR` codes, `[IN-USE]`, a stream cut off after
 * N octets, a failing delete).
 *
 * @example A client under test against a server with a slow RETR
 * ```ts
 * import { Pop3d } from "@x/pop3d";
 * import { TestBackend } from "@x/pop3d/testing";
 *
 * const backend = new TestBackend().addUser("alice", "secret");
 * backend.deliver("alice", "Subject: hi\n\nHello\n", { uid: "m1" });
 * backend.inject({ on: "get", uid: "m1", delay: 100, times: 1 });
 *
 * const server = new Pop3d({
 *   port: 0,
 *   hostname: "127.0.0.1",
 *   auth: backend,
 *   storage: backend,
 * });
 * await server.up();
 * // ...run the client under test against server.cget("port")...
 * backend.clearFaults();
 * await server.destroy("kill");
 * ```
 *
 * @module
 */

export { TestBackend } from "./src/testing/test_backend.ts";
export type { TestBackendOptions } from "./src/testing/test_backend.ts";
export type {
  BackendMethod,
  FaultOptions,
  InjectedFault,
} from "./src/testing/test_fault.ts";
export type {
  BackendCall,
  Deletion,
  Retrieval,
  RetrievalStatus,
} from "./src/testing/test_record.ts";
export { InjectedFaultError } from "./src/testing/injected_fault_error.ts";
