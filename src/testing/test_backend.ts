/**
 * A test fixture for mail clients: users, maildrops, a record of what the
 * server read and deleted, and fault injection.
 *
 * @module
 */

import { MemoryAuth } from "../auth/memory_auth.ts";
import type { Pop3dAuth } from "../auth/types.ts";
import {
  type DeliverOptions,
  MemoryStorage,
  type StoredMessage,
} from "../storage/memory_storage.ts";
import { openCallbackMaildrop } from "../storage/callback_maildrop.ts";
import type {
  MaildropHandle,
  MaildropStore,
  OpenMaildropContext,
} from "../storage/maildrop_handle.ts";
import type { MessageSource, Pop3dStorage } from "../storage/types.ts";
import {
  type BackendCall,
  type Deletion,
  recordingStream,
  type Retrieval,
  TestRecords,
} from "./test_record.ts";
import {
  type BackendMethod,
  FaultBox,
  type FaultOptions,
  type InjectedFault,
} from "./test_fault.ts";

/** Options for {@linkcode TestBackend}. */
export interface TestBackendOptions {
  /**
   * Reads a file for {@linkcode TestBackend.deliverFile}, such as
   * the host runtime's file reader, or `readFile` from `node:fs/promises`.
   */
  readFile?:
    | ((path: string) => string | Uint8Array | Promise<string | Uint8Array>)
    | null;
}

/**
 * Users and maildrops in memory for testing POP3 clients, with a record of
 * what the server did and faults a test can turn on. It is both the `auth`
 * and the `storage` of a {@linkcode Pop3d}: pass it as both.
 *
 * - Users: {@linkcode TestBackend.addUser}; the maildrop is the user name
 *   unless given.
 * - Mail: {@linkcode TestBackend.deliver} takes a string or bytes (bare LF
 *   becomes CRLF); {@linkcode TestBackend.deliverFile} reads an `.eml` file
 *   through the `readFile` option.
 * - Inspection: {@linkcode TestBackend.retrievals} lists every `get` call
 *   (the server calls `get` for RETR and TOP; UIDL uses the stored unique
 *   ids and never reads a message). A RETR ends `"complete"`, a TOP usually
 *   `"cancelled"` (or `"complete"` when it asked for every line).
 *   {@linkcode TestBackend.deletions} lists what the server deleted, which
 *   happens only after QUIT. {@linkcode TestBackend.calls} logs every call.
 * - Faults: {@linkcode TestBackend.inject}.
 * - {@linkcode TestBackend.reset} forgets everything.
 *
 * @example Testing a client against a server on a random port
 * ```ts
 * import { Pop3d } from "@x/pop3d";
 * import { TestBackend } from "@x/pop3d/testing";
 *
 * const backend = new TestBackend();
 * backend.addUser("alice", "secret");
 * backend.deliver("alice", "Subject: hi\n\nHello\n", { uid: "m1" });
 * backend.inject({ on: "get", uid: "m1", times: 1, error: "SYS/TEMP" });
 *
 * const server = new Pop3d({
 *   port: 0,
 *   hostname: "127.0.0.1",
 *   auth: backend,
 *   storage: backend,
 * });
 * await server.up();
 * // ...run the client under test against server.cget("port")...
 * await server.destroy("kill");
 * console.assert(backend.deleted("alice").length === 0);
 * ```
 */
export class TestBackend
  implements Pop3dAuth<string>, Pop3dStorage<string>, MaildropStore<string> {
  #auth = new MemoryAuth();
  #store = new MemoryStorage();
  #faults = new FaultBox({
    mboxOf: (user: string) => this.#mboxOf(user),
    uidOf: (mbox: string, n: number) => this.#store.messages(mbox)[n - 1]?.uid,
  });
  #records = new TestRecords();
  readonly #readFile: TestBackendOptions["readFile"];

  /**
   * Creates an empty backend: no users, no mail, no faults.
   *
   * @param options See {@linkcode TestBackendOptions}.
   * @throws {TypeError} When `readFile` is not a function.
   */
  constructor(options: TestBackendOptions = {}) {
    const readFile = options.readFile ?? null;
    if (readFile !== null && typeof readFile !== "function") {
      throw new TypeError('Option "readFile" must be a function');
    }
    this.#readFile = readFile;
  }

  // ---- set-up --------------------------------------------------------------

  /**
   * Adds or replaces a user.
   *
   * @param name User name (no CR, LF or NUL).
   * @param password Password (plaintext, so APOP and every SASL mechanism work).
   * @param mbox Maildrop name; default: the user name.
   * @returns The backend, for chaining.
   * @throws {TypeError} When a value is not a string, is empty or holds CR, LF or NUL.
   */
  addUser(name: string, password: string, mbox: string = name): this {
    this.#auth.addUser(name, password, mbox);
    return this;
  }

  /** Removes a user (not the maildrop); returns whether it existed. */
  removeUser(name: string): boolean {
    return this.#auth.removeUser(name);
  }

  /** Names of all users. */
  users(): string[] {
    return this.#auth.users();
  }

  /**
   * Adds a message to a maildrop (the user name, unless `addUser` named
   * another). Mail delivered while a session is logged in is appended and
   * shows up in the next session.
   *
   * @param mbox The maildrop.
   * @param message The message: a string (encoded as UTF-8) or bytes.
   * @param options `uid`: its unique id; default: a fresh one.
   * @returns The message's unique id.
   * @throws {TypeError} For a message that is not a string or bytes, or a bad or duplicate uid.
   */
  deliver(
    mbox: string,
    message: string | Uint8Array,
    options: DeliverOptions = {},
  ): string {
    return this.#store.deliver(mbox, message, options);
  }

  /**
   * Reads a file (such as an `.eml`) with the `readFile` option and
   * delivers it.
   *
   * @param mbox The maildrop.
   * @param path Passed to `readFile` as it is.
   * @param options `uid`: its unique id; default: a fresh one.
   * @returns The message's unique id.
   * @throws {TypeError} When the backend has no `readFile` option.
   */
  async deliverFile(
    mbox: string,
    path: string,
    options: DeliverOptions = {},
  ): Promise<string> {
    const readFile = this.#readFile;
    if (!readFile) {
      throw new TypeError(
        'TestBackend needs the "readFile" option to deliver files',
      );
    }
    return this.deliver(mbox, await readFile(path), options);
  }

  /** The messages of a maildrop as stored now (CRLF line ends), in order. */
  messages(mbox: string): readonly StoredMessage[] {
    return this.#store.messages(mbox);
  }

  /** Whether a session holds the maildrop's lock. */
  isLocked(mbox: string): boolean {
    return this.#store.isLocked(mbox);
  }

  // ---- faults --------------------------------------------------------------

  /**
   * Turns on a fault. When several match a call, their delays add up and
   * the oldest error, refusal or drop applies.
   *
   * @param fault Which calls, and what to do to them.
   * @returns A handle with the hit count and `remove()`.
   * @throws {TypeError} For an unknown callback, a missing effect, or an effect on the wrong callback.
   * @throws {RangeError} For a negative or too large number.
   *
   * @example Common faults
   * ```ts
   * import { TestBackend } from "@x/pop3d/testing";
   * const backend = new TestBackend().addUser("alice", "secret");
   * backend.inject({ on: "get", user: "alice", delay: 2000 }); // slow RETR
   * backend.inject({ on: "get", msgId: 2, dropAfter: 100 }); // cut off
   * backend.inject({ on: "stat", error: "SYS/TEMP", times: 1 }); // login fails once
   * const busy = backend.inject({ on: "lock", refuse: true }); // [IN-USE]
   * busy.remove();
   * ```
   */
  inject(fault: FaultOptions): InjectedFault {
    return this.#faults.add(fault);
  }

  /**
   * Removes every fault and ends every pending delay now. Call it before
   * `server.destroy()` when a test may leave a delayed call behind: the
   * server waits for callbacks in flight, even with `"kill"`.
   */
  clearFaults(): void {
    this.#faults.clear();
  }

  // ---- inspection ----------------------------------------------------------

  /**
   * Every `get` call, oldest first, optionally for one maildrop.
   *
   * @example
   * ```ts
   * import { TestBackend } from "@x/pop3d/testing";
   * const backend = new TestBackend();
   * backend.deliver("alice", "Subject: x\r\n\r\nHi\r\n");
   * await new Response(await backend.get("alice", 1) as ReadableStream).text();
   * console.assert(backend.retrievals("alice")[0].status === "complete");
   * ```
   */
  retrievals(mbox?: string): Retrieval[] {
    return this.#records.retrievals(mbox);
  }

  /** Unique ids of the messages the server read to their end, each once, in order. */
  retrieved(mbox: string): string[] {
    return this.#records.retrieved(mbox);
  }

  /** Every message the server deleted, oldest first, optionally for one maildrop. */
  deletions(mbox?: string): Deletion[] {
    return this.#records.deletions(mbox);
  }

  /** Unique ids of the messages the server deleted from a maildrop, in order. */
  deleted(mbox: string): string[] {
    return this.deletions(mbox).map((d) => d.uid);
  }

  /** Every auth and storage call, oldest first. */
  calls(): BackendCall[] {
    return this.#records.calls();
  }

  /**
   * Forgets users, maildrops, records and faults, releases locks, and ends
   * pending delays. Call it between tests, after the server is destroyed.
   *
   * @example Between tests
   * ```ts
   * import { TestBackend } from "@x/pop3d/testing";
   * const backend = new TestBackend().addUser("alice", "secret");
   * backend.deliver("alice", "Subject: x\r\n\r\nHi\r\n");
   * backend.reset();
   * console.assert(backend.users().length === 0);
   * console.assert(backend.stat("alice") === 0);
   * ```
   */
  reset(): void {
    this.clearFaults();
    this.#auth = new MemoryAuth();
    this.#store = new MemoryStorage();
    this.#records = new TestRecords();
  }

  // ---- Pop3dAuth -----------------------------------------------------------

  /** Auth callback: whether the user exists. */
  exists(name: string): boolean | Promise<boolean> {
    return this.#intercept("exists", name, [], () => this.#auth.exists(name));
  }

  /**
   * Auth callback: `[password, mbox]`.
   *
   * @throws {RangeError} For an unknown user.
   */
  lookup(
    name: string,
  ): readonly [string, string] | Promise<readonly [string, string]> {
    return this.#intercept("lookup", name, [], () => this.#auth.lookup(name));
  }

  // ---- MaildropStore and Pop3dStorage --------------------------------------

  /**
   * Opens a maildrop for one session through this backend's own callbacks
   * (`lock`, `stat`, `size` now; `size`, `uidl`, `get`, `dele`, `unlock`
   * as the session asks), so that every call is logged in
   * {@linkcode TestBackend.calls} and every fault applies.
   *
   * @example
   * ```ts
   * import { TestBackend } from "@x/pop3d/testing";
   * const backend = new TestBackend();
   * backend.deliver("alice", "Subject: x\r\n\r\nHi\r\n");
   * const signal = new AbortController().signal;
   * const handle = await backend.openMaildrop("alice", { user: "alice", signal });
   * console.assert(handle?.count === 1);
   * await handle?.close();
   * console.assert(backend.calls().map((c) => c.method).join() === "lock,stat,size,unlock");
   * ```
   */
  openMaildrop(
    mbox: string,
    context: OpenMaildropContext,
  ): Promise<MaildropHandle | null> {
    return openCallbackMaildrop(this, mbox, context);
  }

  /** Storage callback: takes the maildrop's lock. */
  lock(mbox: string): boolean | Promise<boolean> {
    return this.#intercept(
      "lock",
      mbox,
      [],
      () => this.#store.lock(mbox),
      () => false,
    );
  }

  /** Storage callback: releases the maildrop's lock. */
  unlock(mbox: string): void | Promise<void> {
    return this.#intercept("unlock", mbox, [], () => this.#store.unlock(mbox));
  }

  /** Storage callback: the number of messages. */
  stat(mbox: string): number | Promise<number> {
    return this.#intercept("stat", mbox, [], () => this.#store.stat(mbox));
  }

  /**
   * Storage callback: the size of one message, or of the maildrop.
   *
   * @throws {RangeError} For a message that does not exist.
   */
  size(mbox: string, msgId?: number): number | Promise<number> {
    return this.#intercept(
      "size",
      mbox,
      msgId === undefined ? [] : [msgId],
      () => this.#store.size(mbox, msgId),
    );
  }

  /**
   * Storage callback: a stream of the message, recorded in
   * {@linkcode TestBackend.retrievals}.
   *
   * @throws {RangeError} For a message that does not exist.
   */
  get(mbox: string, msgId: number): MessageSource | Promise<MessageSource> {
    return this.#intercept("get", mbox, [msgId], (dropAfter) => {
      const message = this.#store.messages(mbox)[msgId - 1];
      if (!message) throw new RangeError(`No message ${msgId}`);
      const entry = this.#records.retrieval(mbox, msgId, message.uid);
      return recordingStream(message.bytes, entry, dropAfter);
    });
  }

  /**
   * Storage callback: the message's unique id.
   *
   * @throws {RangeError} For a message that does not exist.
   */
  uidl(mbox: string, msgId: number): string | Promise<string> {
    return this.#intercept(
      "uidl",
      mbox,
      [msgId],
      () => this.#store.uidl(mbox, msgId),
    );
  }

  /** Storage callback: deletes messages, recorded in {@linkcode TestBackend.deletions}. */
  dele(mbox: string, msgIds: readonly number[]): void | Promise<void> {
    return this.#intercept("dele", mbox, msgIds, () => {
      const messages = this.#store.messages(mbox);
      const gone = msgIds.flatMap((msgId) => {
        const m = messages[msgId - 1];
        return m ? [{ mbox, msgId, uid: m.uid, bytes: m.bytes }] : [];
      });
      this.#store.dele(mbox, msgIds);
      this.#records.deleted(...gone);
    });
  }

  // ---- fault machinery -----------------------------------------------------

  #mboxOf(user: string): string {
    return this.#auth.exists(user) ? this.#auth.lookup(user)[1] : user;
  }

  #intercept<T>(
    method: BackendMethod,
    name: string,
    msgIds: readonly number[],
    answer: (dropAfter: number | undefined) => T,
    refused?: () => T,
  ): T | Promise<T> {
    return this.#faults.intercept(
      { method, name, msgIds },
      (faulted) =>
        this.#records.call({ method, name, msgIds: [...msgIds], faulted }),
      answer,
      refused,
    );
  }
}
