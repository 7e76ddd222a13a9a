/**
 * Delivery into Maildirs (`tmp/` then `new/`), for {@linkcode Lmtpd} or any
 * program that drops mail for a {@linkcode MaildirStorage} to serve.
 *
 * @module
 */

import {
  isStrictlyInside,
  normalizePath,
  resolveInside,
} from "../_util/path.ts";
import { lazyMaildirFs, type MaildirFs } from "./maildir_fs.ts";

/** Options for {@linkcode MaildirDeliver}. */
export interface MaildirDeliverOptions {
  /**
   * The directory holding every Maildir, as for `MaildirStorage`: a
   * storage reference is a path relative to it (`"alice"`) or an absolute
   * path inside it.
   */
  root: string;
  /**
   * Creates a missing Maildir (`cur/`, `new/`, `tmp/`) at first delivery.
   *
   * @default {true}
   */
  create?: boolean;
  /**
   * Flushes each message file and the `new/` directory to disk before
   * `deliver` resolves, so that an accepted message survives a crash.
   *
   * @default {true}
   */
  fsync?: boolean;
  /** File access; the default (Node's fs/promises API) when omitted. */
  fs?: MaildirFs;
}

/** What {@linkcode MaildirDeliver.deliver} stored. */
export interface MaildirDelivered {
  /** The file name in `new/`. */
  readonly name: string;
  /** The unique part of the name: the message's UIDL in `MaildirStorage`. */
  readonly unique: string;
  /** Octets in the file (`S=`). */
  readonly size: number;
  /** Octets on the wire with CRLF line ends (`W=`), as RETR sends it. */
  readonly wireSize: number;
}

const encoder = new TextEncoder();
let deliveries = 0;

/**
 * Converts the CRLF line ends of a message as received to the LF that
 * Maildir files hold, so that a reader who turns each bare LF back into
 * CRLF (as `MaildirStorage` does) gets the original bytes. A CRLF right
 * after a CR (`\r\r\n`) stays as it is, since turning it into `\r\n` would
 * read back as one CR too few.
 */
function toMaildirBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let at = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (
      b === 13 && bytes[i + 1] === 10 && (i === 0 || bytes[i - 1] !== 13)
    ) {
      continue; // drop the CR of a CRLF
    }
    out[at++] = b;
  }
  return at === bytes.length ? bytes : out.subarray(0, at);
}

/** Octets on the wire: every LF not after a CR counts as CRLF. */
function wireSizeOf(bytes: Uint8Array): number {
  let size = bytes.length;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) {
    if (i === 0 || bytes[i - 1] !== 13) size++;
  }
  return size;
}

/** Escapes `/`, `:` and `,` in a host name for a Maildir file name. */
function safeHost(host: string): string {
  return (host || "localhost").replace(
    /[/:,\\]/g,
    (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`,
  );
}

/**
 * Delivers messages into Maildirs the way Postfix and Dovecot do: the
 * message goes to `tmp/` under a unique name, is flushed to disk, and is
 * renamed into `new/`, so a reader never sees half a message. File names
 * are `<seconds>.M<microseconds>P<pid>Q<n>R<random>.<host>,S=<size>,W=<wire
 * size>`; `MaildirStorage` takes the size on the wire from `W=` without
 * reading the file, and orders messages by the time in the name. Line ends
 * are stored as LF, the Maildir custom; POP3 then sends the bytes that
 * came in.
 *
 * It is the delivery target for a Maildir behind {@linkcode Lmtpd} (its
 * `storage` option); pass the same `root` as to `MaildirStorage`.
 *
 * @example Delivering into /var/mail/alice
 * ```ts ignore
 * import { Lmtpd, MaildirDeliver, PasswdFileAuth } from "@x/pop3d";
 *
 * const auth = new PasswdFileAuth({ path: "/etc/pop3d.passwd", mailRoot: "/var/mail" });
 * const storage = new MaildirDeliver({ root: "/var/mail" });
 * const lmtp = new Lmtpd({ port: 24, auth, storage });
 * await lmtp.up();
 * ```
 *
 * @example Delivering one message by hand
 * ```ts ignore
 * import { MaildirDeliver } from "@x/pop3d";
 *
 * const target = new MaildirDeliver({ root: "/var/mail" });
 * const stored = await target.deliver("alice", "Subject: hi\r\n\r\nHello\r\n");
 * console.log(stored.name); // in /var/mail/alice/new/, with S=21 and W=24
 * ```
 */
export class MaildirDeliver {
  #root: string;
  #create: boolean;
  #fsync: boolean;
  #getFs: () => Promise<MaildirFs>;
  // Maildirs already checked and created: later deliveries skip the checks.
  #ready = new Set<string>();

  /**
   * Creates the delivery target; nothing is touched until the first delivery.
   *
   * @param options The root directory and switches.
   * @throws {TypeError} When `root` is missing or empty.
   */
  constructor(options: MaildirDeliverOptions) {
    if (typeof options?.root !== "string" || options.root === "") {
      throw new TypeError("Cannot create MaildirDeliver: root is required");
    }
    this.#root = normalizePath(options.root);
    this.#create = options.create ?? true;
    this.#fsync = options.fsync ?? true;
    this.#getFs = lazyMaildirFs(options.fs);
  }

  /**
   * Resolves a storage reference to its Maildir path inside the root, as
   * `MaildirStorage.path` does.
   *
   * @param mbox A path relative to the root, or an absolute path inside it.
   * @returns The Maildir's path.
   * @throws {RangeError} When the reference escapes the root.
   *
   * @example
   * ```ts
   * import { MaildirDeliver } from "@x/pop3d";
   * console.assert(new MaildirDeliver({ root: "/var/mail" }).path("bob") === "/var/mail/bob");
   * ```
   */
  path(mbox: string): string {
    const dir = typeof mbox === "string"
      ? resolveInside(this.#root, mbox)
      : undefined;
    if (dir === undefined || dir === this.#root) {
      throw new RangeError(
        `Cannot deliver to Maildir: "${String(mbox)}" is outside the root`,
      );
    }
    return dir;
  }

  /**
   * Stores one message in the Maildir of `mbox`: `tmp/`, fsync, rename
   * into `new/`, fsync of `new/`. When it resolves the message is on disk;
   * when it throws nothing is left behind in `new/`.
   *
   * @param mbox The storage reference (as `MaildirStorage` takes it).
   * @param message The message, with CRLF (or LF) line ends.
   * @returns The file name, unique part and sizes.
   * @throws {RangeError} When `mbox` resolves outside the root.
   * @throws {TypeError} When the message is not a string or bytes.
   * @throws {Error} When the Maildir is missing (with `create: false`) or
   * a file operation fails.
   */
  async deliver(
    mbox: string,
    message: string | Uint8Array,
  ): Promise<MaildirDelivered> {
    let bytes: Uint8Array;
    if (typeof message === "string") bytes = encoder.encode(message);
    else if (message instanceof Uint8Array) bytes = message;
    else throw new TypeError("Message must be a string or a Uint8Array");
    const fs = await this.#getFs();
    const dir = this.path(mbox);
    if (this.#ready.has(dir)) {
      const stored = await this.#store(fs, dir, bytes, true);
      if (stored !== undefined) return stored;
      // tmp/ could not be written: the Maildir may have been removed or
      // replaced, so check it again.
      this.#ready.delete(dir);
    }
    await this.#confine(fs, dir);
    const stored = await this.#store(fs, dir, bytes, false);
    this.#ready.add(dir);
    return stored!;
  }

  async #store(
    fs: MaildirFs,
    dir: string,
    bytes: Uint8Array,
    retryable: boolean,
  ): Promise<MaildirDelivered | undefined> {
    const data = toMaildirBytes(bytes);
    const wireSize = wireSizeOf(data);
    const now = performance.timeOrigin + performance.now();
    const seconds = Math.floor(now / 1000);
    const micros = Math.floor((now - seconds * 1000) * 1000) % 1_000_000;
    const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
    const unique = `${seconds}.M${
      String(micros).padStart(6, "0")
    }P${fs.pid()}Q${++deliveries}R${random}.${safeHost(fs.hostname())}`;
    const name = `${unique},S=${data.length},W=${wireSize}`;
    const temp = `${dir}/tmp/${name}`;
    try {
      if (fs.writeNew) {
        await fs.writeNew(temp, data, { sync: this.#fsync });
      } else if (!(await fs.createExclusive(temp, data))) {
        throw new Error(`Cannot deliver to Maildir: "${temp}" exists`);
      }
    } catch (error) {
      if (retryable) return undefined; // nothing was stored
      throw error;
    }
    try {
      if (!(await fs.rename(temp, `${dir}/new/${name}`))) {
        throw new Error(`Cannot deliver to Maildir: "${temp}" vanished`);
      }
    } catch (error) {
      await fs.unlink(temp).catch(() => {});
      throw error;
    }
    if (this.#fsync && fs.syncDir) await fs.syncDir(`${dir}/new`);
    return { name, unique, size: data.length, wireSize };
  }

  /**
   * Checks that the Maildir (or its deepest existing ancestor) resolves
   * inside the root, so no symbolic link leads a delivery out of it, and
   * creates what is missing.
   */
  async #confine(fs: MaildirFs, dir: string): Promise<string> {
    const realRoot = await fs.realPath(this.#root);
    if (realRoot === undefined) {
      throw new Error(
        `Cannot deliver to Maildir: root "${this.#root}" is missing`,
      );
    }
    let existing = dir;
    let real = await fs.realPath(existing);
    while (real === undefined && isStrictlyInside(this.#root, existing)) {
      existing = existing.slice(0, existing.lastIndexOf("/")) || "/";
      real = await fs.realPath(existing);
    }
    const root = normalizePath(realRoot);
    const inside = real !== undefined &&
      (existing === dir
        ? isStrictlyInside(root, normalizePath(real))
        : real === realRoot || isStrictlyInside(root, normalizePath(real)));
    if (!inside) {
      throw new RangeError(
        `Cannot deliver to Maildir: "${dir}" resolves outside the root`,
      );
    }
    if (existing !== dir && !this.#create) {
      throw new Error(`Cannot deliver to Maildir: "${dir}" is missing`);
    }
    if (this.#create) {
      for (const sub of ["tmp", "new", "cur"]) await fs.mkdir(`${dir}/${sub}`);
    }
    return dir;
  }
}
