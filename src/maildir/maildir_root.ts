/**
 * The directory that holds every Maildir of a `MaildirStorage`,
 * and the checks that keep a Maildir inside it: lexically for a storage
 * reference, and through symbolic links before anything is read or created.
 *
 * @module
 */

import { Pop3Error } from "../errors.ts";
import {
  isStrictlyInside,
  normalizePath,
  resolveInside,
} from "../_util/path.ts";
import type {
  MaildirDirEntry,
  MaildirFileInfo,
  MaildirFs,
} from "./maildir_fs.ts";

const SUBDIRS = ["cur", "new", "tmp"] as const;

/** How a {@linkcode MaildirRoot} treats the Maildirs it confines. */
export interface MaildirRootOptions {
  /** Creates a missing Maildir (`cur/`, `new/`, `tmp/`) in `confine()`. */
  create: boolean;
  /** Receives the reason a Maildir was refused. */
  onError: (error: unknown) => void;
}

/**
 * The root directory of the Maildirs. {@linkcode MaildirRoot.resolve} turns
 * a storage reference into a Maildir path inside the root;
 * {@linkcode MaildirRoot.confine} checks that neither the Maildir nor its
 * deepest existing ancestor resolves outside the root through a link,
 * creates a missing Maildir, and checks that `cur/`, `new/` and `tmp/` are
 * real directories. The root's real path is resolved at the first
 * `confine()` and again only when a Maildir seems to lie outside it (the
 * root link was moved).
 *
 * @example Resolving a storage reference
 * ```ts
 * import { MaildirRoot } from "./maildir_root.ts";
 *
 * const root = new MaildirRoot("/var/mail/", { create: true, onError() {} });
 * console.assert(root.resolve("alice") === "/var/mail/alice");
 * console.assert(root.resolve("../etc") === undefined);
 * ```
 */
export class MaildirRoot {
  /** The root, normalized. */
  readonly path: string;
  #create: boolean;
  #onError: (error: unknown) => void;
  #realPath: string | undefined;

  /**
   * Holds the root; nothing is read until the first `confine()`.
   *
   * @param root The directory that holds every Maildir.
   * @param options Whether to create a missing Maildir, and where refusals go.
   */
  constructor(root: string, options: MaildirRootOptions) {
    this.path = normalizePath(root);
    this.#create = options.create;
    this.#onError = options.onError;
  }

  /**
   * The Maildir path of a storage reference, lexically inside the root.
   *
   * @param mbox A path relative to the root, or an absolute path inside it.
   * @returns The normalized Maildir path, or `undefined` when it would lie
   *   outside the root.
   *
   * @example
   * ```ts
   * import { MaildirRoot } from "./maildir_root.ts";
   * const root = new MaildirRoot("/var/mail", { create: true, onError() {} });
   * console.assert(root.resolve("/var/mail/bob/") === "/var/mail/bob");
   * ```
   */
  resolve(mbox: string): string | undefined {
    return resolveInside(this.path, mbox);
  }

  /**
   * Checks symlinks against the root, creates a missing Maildir (when
   * `create`) and checks that `cur/`, `new/` and `tmp/` are real
   * directories.
   *
   * @param fs The file access.
   * @param dir A Maildir path from {@linkcode MaildirRoot.resolve}.
   * @returns Whether the Maildir exists now, and its real path (or `dir`
   *   when it does not).
   * @throws {RangeError} When the Maildir resolves outside the root.
   * @throws {Pop3Error} `SYS/PERM` when `cur/`, `new/` or `tmp/` is not a
   *   real directory (the reason goes to `onError`).
   *
   * @example
   * ```ts ignore
   * const [exists, key] = await root.confine(fs, root.resolve("alice")!);
   * ```
   */
  async confine(
    fs: MaildirFs,
    dir: string,
  ): Promise<[exists: boolean, key: string]> {
    // The deepest existing ancestor must resolve inside the root, so that
    // neither reading nor mkdir can follow a link out of it.
    let existing = dir;
    let real = await fs.realPath(existing);
    while (real === undefined && isStrictlyInside(this.path, existing)) {
      existing = existing.slice(0, existing.lastIndexOf("/")) || "/";
      real = await fs.realPath(existing);
    }
    const cached = this.#realPath;
    let realRoot = cached ?? await this.#resolveRoot(fs);
    let inside = isConfined(realRoot, real, existing === dir);
    if (!inside && cached !== undefined) {
      // The root itself may have moved since it was resolved.
      realRoot = await this.#resolveRoot(fs);
      inside = isConfined(realRoot, real, existing === dir);
    }
    if (!inside) {
      throw new RangeError(
        `Cannot open Maildir: "${dir}" resolves outside the root`,
      );
    }
    if (existing !== dir && !this.#create) return [false, dir];
    // The kinds of cur/, new/ and tmp/, from one listing of the Maildir
    // where the file system gives kinds (else a stat each).
    const kinds = existing === dir ? await listSubdirs(fs, dir) : new Map();
    for (const sub of SUBDIRS) {
      const path = `${dir}/${sub}`;
      let kind = kinds?.get(sub);
      if (kinds === undefined || kind === "other") {
        kind = kindOf(await fs.stat(path));
      }
      if (kind === undefined && this.#create) {
        await fs.mkdir(path);
        kind = kindOf(await fs.stat(path));
      }
      if (kind !== undefined && kind !== "directory") {
        this.#onError(
          new Error(
            `Refused Maildir "${dir}": "${sub}" is not a real directory (a symbolic link or a file)`,
          ),
        );
        throw new Pop3Error("Maildir is not usable", "SYS/PERM");
      }
    }
    // A Maildir created just now: its real path, for the key.
    return [true, existing === dir ? real! : (await fs.realPath(dir)) ?? dir];
  }

  async #resolveRoot(fs: MaildirFs): Promise<string> {
    const realRoot = await fs.realPath(this.path);
    if (realRoot === undefined) {
      throw new Error(`Cannot open Maildir: root "${this.path}" is missing`);
    }
    this.#realPath = normalizePath(realRoot);
    return this.#realPath;
  }
}

type Kind = MaildirDirEntry["kind"];

function kindOf(info: MaildirFileInfo | undefined): Kind | undefined {
  if (info === undefined) return undefined;
  return info.isSymlink
    ? "symlink"
    : info.isDirectory
    ? "directory"
    : info.isFile
    ? "file"
    : "other";
}

/**
 * The kinds of the Maildir's `cur`, `new` and `tmp` as its directory lists
 * them (a name missing from the map is missing), or `undefined` when the
 * file system cannot list kinds. A Maildir that is not a directory (a
 * symbolic link to one is) is an error.
 */
async function listSubdirs(
  fs: MaildirFs,
  dir: string,
): Promise<Map<string, Kind> | undefined> {
  const notADirectory = () =>
    new Error(`Cannot open Maildir: "${dir}" is not a directory`);
  if (fs.readDirKinds === undefined) {
    const info = await fs.stat(dir);
    if (info !== undefined && !info.isDirectory && !info.isSymlink) {
      throw notADirectory();
    }
    return undefined;
  }
  let entries: MaildirDirEntry[] | undefined;
  try {
    entries = await fs.readDirKinds(dir);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ENOTDIR") throw notADirectory();
    throw error;
  }
  const kinds = new Map<string, Kind>();
  for (const entry of entries ?? []) {
    if ((SUBDIRS as readonly string[]).includes(entry.name)) {
      kinds.set(entry.name, entry.kind);
    }
  }
  return kinds;
}

/**
 * Whether `real`, the real path of a Maildir (`whole`) or of its deepest
 * existing ancestor, lies inside the real root (an ancestor may be the root).
 */
function isConfined(
  realRoot: string,
  real: string | undefined,
  whole: boolean,
): boolean {
  if (real === undefined) return false;
  const path = normalizePath(real);
  return isStrictlyInside(realRoot, path) || (!whole && path === realRoot);
}
