/**
 * A {@linkcode Pop3dAuth} over a Dovecot `passwd-file`.
 *
 * @module
 */

import type { Pop3dAuth } from "./types.ts";
import { passwordScheme, verifyPassword } from "./password_scheme.ts";
import { normalizePath } from "../_util/path.ts";
import { parsePasswdFile, type PasswdEntry } from "./passwd_file_parser.ts";

export { parsePasswdFile };
export type { PasswdEntry };
import { randomHex } from "../_util/random.ts";
import { type HashGate, hashGate } from "./hash_gate.ts";

/**
 * The file access of {@linkcode PasswdFileAuth}: the file's version and
 * its bytes. Methods return `undefined` for a missing file.
 */
export interface PasswdFileFs {
  /** The file's modification time and size. */
  stat(path: string): Promise<{ mtimeMs: number; size: number } | undefined>;
  /** The whole file. */
  readFile(path: string): Promise<Uint8Array | undefined>;
}

/** Options for {@linkcode PasswdFileAuth}. */
export interface PasswdFileAuthOptions {
  /** Path of the passwd-file. */
  path: string;
  /**
   * The Maildir root (the same as {@linkcode MaildirStorage}'s `root`).
   * A user's Maildir is `<mailRoot>/<user>` unless the line's extra fields
   * set `mail=maildir:PATH` (or `userdb_mail=`); either way it must lie
   * inside this directory.
   */
  mailRoot: string;
  /**
   * Minimum time in milliseconds between two checks of the file's mtime and
   * size; the file is re-read when either changed.
   *
   * @default {1000}
   */
  checkIntervalMs?: number;
  /** File access; the default (over Node's fs API) when omitted. */
  fs?: PasswdFileFs;
  /**
   * For the default file access (no `fs`): check the file's mtime and size,
   * and read it, with synchronous calls (microseconds on a local disk,
   * against a thread-pool round trip for an asynchronous one). Set `false`
   * on a network file system or a slow disk, where a synchronous call
   * would stall every session while it waits.
   *
   * @default {true}
   */
  syncMetadata?: boolean;
  /**
   * Password hashes that may run at once; more wait in line, so that a
   * flood of PASS cannot pin the CPU. Default: a bound of 2 shared by every
   * backend in the process that has no own bound.
   */
  maxConcurrentHashes?: number;
  /**
   * Receives one message per skipped line, with its 1-based line number.
   * Messages never contain passwords or hashes.
   */
  onWarning?: (message: string, line: number) => void;
  /**
   * Receives errors re-reading a file that was read before (the previous
   * users stay in effect). The first read's errors reject the call instead.
   */
  onError?: (error: unknown) => void;
}

const DUMMY_HASH =
  "{SHA512-CRYPT}$6$pop3ddummysalt00$DqHX2XVQG40Ob0qeaPJt5l9tA7yEOHbOCAI4TM9nyDPq8XdkfWKQ8V2XhZpmIbiQkDKrwOnIcrxcVqzNeUHD90";

/**
 * Authenticates users from a Dovecot `passwd-file`
 * (`user:{SCHEME}hash:uid:gid:gecos:home:shell:extra`). Lines that cannot
 * be used (syntax, unsupported scheme, mailbox outside the root) are
 * reported to `onWarning` and skipped. The file is re-read when its mtime or
 * size changes, checked at most every `checkIntervalMs`.
 *
 * `authenticate` verifies any supported scheme (`PLAIN`, `SHA512-CRYPT`,
 * `SHA256-CRYPT`, `PBKDF2`, `SSHA256`, `SSHA512`, ...; see
 * {@linkcode PASSWORD_SCHEMES}). `lookup` returns the plaintext for
 * `{PLAIN}` entries; for hashed entries it returns a fresh random string
 * that matches no password (so a server comparing it, or computing APOP
 * digests from it, can never be fooled), with the Maildir path relative to
 * `mailRoot` as storage reference.
 *
 * @example Serving a passwd-file's users
 * ```ts ignore
 * import { Pop3d } from "@x/pop3d";
 * import { MaildirStorage, PasswdFileAuth } from "@x/pop3d/maildir";
 *
 * const auth = new PasswdFileAuth({ path: "/etc/pop3d.passwd", mailRoot: "/var/mail" });
 * const storage = new MaildirStorage({ root: "/var/mail" });
 * const server = new Pop3d({ auth, storage });
 * ```
 *
 * @example Checking a password (with an in-memory file through `fs`)
 * ```ts
 * import { PasswdFileAuth } from "@x/pop3d/maildir";
 *
 * const text = new TextEncoder().encode("alice:{PLAIN}secret::::::\n");
 * const auth = new PasswdFileAuth({
 *   path: "/etc/pop3d.passwd",
 *   mailRoot: "/var/mail",
 *   fs: {
 *     stat: () =>
 *       Promise.resolve({
 *         isFile: true,
 *         isDirectory: false,
 *         isSymlink: false,
 *         size: text.length,
 *         mtimeMs: 0,
 *       }),
 *     readFile: () => Promise.resolve(text),
 *   },
 * });
 * console.assert(await auth.authenticate("alice", "secret"));
 * console.assert((await auth.lookup("alice"))[1] === "alice");
 * ```
 */
export class PasswdFileAuth implements Pop3dAuth<string> {
  /**
   * Always `false`: hashed entries have no plaintext, so the server offers
   * no APOP, CRAM-MD5 or SCRAM with this backend and calls `authenticate`.
   */
  readonly plaintextPasswords = false;
  #path: string;
  #mailRoot: string;
  #interval: number;
  #fs: PasswdFileFs | undefined;
  #syncMetadata: boolean;
  #gate: HashGate;
  // The stored hash an unknown user's password is checked against: one of
  // the file's own, of its most common scheme, so that it costs the same.
  #template = DUMMY_HASH;
  #onWarning: (message: string, line: number) => void;
  #onError: (error: unknown) => void;
  #users: Map<string, PasswdEntry> | undefined;
  #version = "";
  #checkedAt = -Infinity;
  #loading: Promise<void> | undefined;

  /**
   * Creates the user database over the passwd-file at `options.path`; nothing is read until first use.
   *
   * @param options The file, the mail root and the reload interval.
   * @throws {TypeError} When `path` or `mailRoot` is missing, or
   *   `syncMetadata` is not a boolean.
   * @throws {RangeError} When `checkIntervalMs` is negative.
   */
  constructor(options: PasswdFileAuthOptions) {
    if (typeof options?.path !== "string" || options.path === "") {
      throw new TypeError("Cannot create PasswdFileAuth: path is required");
    }
    if (typeof options.mailRoot !== "string" || options.mailRoot === "") {
      throw new TypeError(
        "Cannot create PasswdFileAuth: mailRoot is required",
      );
    }
    const interval = options.checkIntervalMs ?? 1000;
    if (!(interval >= 0)) {
      throw new RangeError(
        `Cannot create PasswdFileAuth: checkIntervalMs must be 0 or more, got ${interval}`,
      );
    }
    const syncMetadata = options.syncMetadata ?? true;
    if (typeof syncMetadata !== "boolean") {
      throw new TypeError(
        "Cannot create PasswdFileAuth: syncMetadata must be a boolean",
      );
    }
    this.#syncMetadata = syncMetadata;
    this.#path = options.path;
    this.#mailRoot = normalizePath(options.mailRoot);
    this.#interval = interval;
    this.#fs = options.fs;
    this.#gate = hashGate(options.maxConcurrentHashes);
    this.#onWarning = options.onWarning ?? (() => {});
    this.#onError = options.onError ?? (() => {});
  }

  /**
   * Tells whether the user has a usable line in the file.
   *
   * @param name The user name.
   * @returns Whether the user exists.
   */
  async exists(name: string): Promise<boolean> {
    return (await this.#current()).has(name);
  }

  /**
   * Returns the password (plaintext for `{PLAIN}`, otherwise an unguessable
   * placeholder) and the Maildir path relative to `mailRoot`.
   *
   * @param name The user name.
   * @returns `[password, mailbox]`.
   * @throws {RangeError} When the user does not exist.
   */
  async lookup(name: string): Promise<readonly [string, string]> {
    const entry = (await this.#current()).get(name);
    if (entry === undefined) {
      throw new RangeError("Cannot look up user: no such user");
    }
    const plain = ["PLAIN", "CLEAR", "CLEARTEXT"].includes(entry.scheme);
    const password = plain
      ? entry.password.slice(entry.password.indexOf("}") + 1)
      : placeholder();
    return [password, entry.mailbox];
  }

  /**
   * Verifies a password against the user's entry. An unknown user's
   * password is checked the same way against a hash of the file's most
   * common scheme and cost, so that it takes as long as a typical known
   * user's. Slow hashes run at most `maxConcurrentHashes` at once.
   *
   * @param name The user name.
   * @param password The password the client sent.
   * @returns Whether the user exists and the password matches.
   */
  async authenticate(name: string, password: string): Promise<boolean> {
    const entry = (await this.#current()).get(name);
    const stored = entry?.password ?? this.#template;
    const ok = isPlain(passwordScheme(stored))
      ? await verifyPassword(password, stored)
      : await this.#gate.run(() => verifyPassword(password, stored));
    return entry !== undefined && ok;
  }

  /**
   * Returns the parsed entry of a user (including the password hash), for
   * programs that combine this file with their own callbacks.
   *
   * @param name The user name.
   * @returns The entry, or `undefined` for an unknown user.
   */
  async entry(name: string): Promise<PasswdEntry | undefined> {
    return (await this.#current()).get(name);
  }

  /**
   * Reads the file now if its mtime or size changed, regardless of
   * `checkIntervalMs`.
   *
   * @returns Resolves once the users are current.
   */
  async reload(): Promise<void> {
    this.#checkedAt = -Infinity;
    await this.#current();
  }

  async #current(): Promise<Map<string, PasswdEntry>> {
    if (
      this.#users !== undefined &&
      Date.now() - this.#checkedAt < this.#interval
    ) {
      return this.#users;
    }
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    await this.#loading;
    return this.#users ?? new Map();
  }

  async #load(): Promise<void> {
    this.#checkedAt = Date.now();
    try {
      this.#fs ??= (await import("../runtime/node_fs.ts")).nodeFs({
        syncMetadata: this.#syncMetadata,
      });
      const info = await this.#fs.stat(this.#path);
      if (info === undefined) {
        throw new Error(`Cannot read passwd-file "${this.#path}": missing`);
      }
      const version = `${info.mtimeMs}:${info.size}`;
      if (this.#users !== undefined && version === this.#version) return;
      const raw = await this.#fs.readFile(this.#path);
      if (raw === undefined) {
        throw new Error(`Cannot read passwd-file "${this.#path}": missing`);
      }
      this.#users = parsePasswdFile(
        new TextDecoder().decode(raw),
        this.#mailRoot,
        this.#onWarning,
      );
      this.#template = templateHash(this.#users);
      this.#version = version;
    } catch (error) {
      if (this.#users === undefined) throw error;
      this.#onError(error);
    }
  }
}

function placeholder(): string {
  return `!${randomHex(32)}`;
}

function isPlain(scheme: string | undefined): boolean {
  return scheme === "PLAIN" || scheme === "CLEAR" || scheme === "CLEARTEXT";
}

/**
 * A stored password of the file's most common scheme and cost (ties: the
 * first seen; plaintext as a random one), or the built-in dummy for an
 * empty file.
 */
function templateHash(users: ReadonlyMap<string, PasswdEntry>): string {
  const seen = new Map<string, { hash: string; count: number }>();
  let best: { hash: string; count: number } | undefined;
  for (const entry of users.values()) {
    const plain = isPlain(entry.scheme);
    const kind = plain ? "PLAIN" : `${entry.scheme}:${costOf(entry.password)}`;
    const hash = plain ? `{PLAIN}${placeholder()}` : entry.password;
    const slot = seen.get(kind) ?? { hash, count: 0 };
    slot.count++;
    seen.set(kind, slot);
    if (best === undefined || slot.count > best.count) best = slot;
  }
  return best?.hash ?? DUMMY_HASH;
}

/** The cost part of a stored hash (`rounds=N`, PBKDF2 iterations), if any. */
function costOf(stored: string): string {
  return /rounds=(\d+)/.exec(stored)?.[1] ??
    /^\{PBKDF2\}\$1\$[^$]*\$(\d+)\$/.exec(stored)?.[1] ?? "";
}
