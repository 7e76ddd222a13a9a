/**
 * Dovecot's Maildir keywords: the `dovecot-keywords` file maps the letters
 * `a`..`z` of the `:2,` flags to IMAP keywords, one line `<index> <keyword>`
 * each (letter = `a` + index). Used for "keep on server" (Dovecot's
 * `pop3_deleted_flag`).
 *
 * @module
 */

import type { MaildirFs } from "./maildir_fs.ts";

/** The file that maps flag letters to keywords. */
export const DOVECOT_KEYWORDS_NAME = "dovecot-keywords";
/** Dovecot's dotlock for it. */
const LOCK_NAME = "dovecot-keywords.lock";
/** The keyword Dovecot's documentation suggests for `pop3_deleted_flag`. */
export const DEFAULT_DELETED_KEYWORD = "$POP3Deleted";
/** Letters `a`..`z`: indexes 0..25. */
const MAX_KEYWORDS = 26;
const LOCK_WAIT_MS = 2000;
const LOCK_POLL_MS = 20;
/** A lock file older than this is left over (Dovecot's dotlock stale time). */
const STALE_LOCK_MS = 120_000;
/** An IMAP atom: printable ASCII without space and `( ) { % * " \ ]`. */
const KEYWORD = /^[!#$&'+-Z[^-z|}~]{1,128}$/;

/**
 * Whether `keyword` can be a Maildir keyword (an IMAP atom).
 *
 * @example
 * ```ts
 * import { isKeyword } from "./dovecot_keywords.ts";
 * console.assert(isKeyword("$POP3Deleted") && !isKeyword("a b"));
 * ```
 */
export function isKeyword(keyword: string): boolean {
  return KEYWORD.test(keyword);
}

/**
 * Parses `dovecot-keywords`: index to keyword, lines that do not fit left out.
 *
 * @example
 * ```ts
 * import { parseDovecotKeywords } from "./dovecot_keywords.ts";
 * const map = parseDovecotKeywords("0 $Junk\n1 $POP3Deleted\n");
 * console.assert(map.get(1) === "$POP3Deleted");
 * ```
 */
export function parseDovecotKeywords(text: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const line of text.split("\n")) {
    const match = /^(\d{1,2}) (\S+)$/.exec(line.replace(/\r$/, ""));
    if (match === null) continue;
    const index = Number(match[1]);
    if (index < MAX_KEYWORDS && !map.has(index)) map.set(index, match[2]);
  }
  return map;
}

function letterOf(map: Map<number, string>, keyword: string) {
  for (const [index, name] of map) {
    if (name === keyword) return String.fromCharCode(0x61 + index);
  }
  return undefined;
}

async function read(fs: MaildirFs, dir: string): Promise<Map<number, string>> {
  const bytes = await fs.readFile(`${dir}/${DOVECOT_KEYWORDS_NAME}`);
  return parseDovecotKeywords(
    bytes === undefined ? "" : new TextDecoder().decode(bytes),
  );
}

/**
 * The flag letter of `keyword` in the Maildir `dir`, or `undefined` when
 * `dovecot-keywords` does not name it.
 *
 * @example
 * ```ts ignore
 * const letter = await findKeywordLetter(fs, "/var/mail/alice", "$POP3Deleted");
 * ```
 */
export async function findKeywordLetter(
  fs: MaildirFs,
  dir: string,
  keyword: string,
): Promise<string | undefined> {
  return letterOf(await read(fs, dir), keyword);
}

/**
 * The flag letter of `keyword`, added to `dovecot-keywords` at the lowest
 * free index (under Dovecot's `dovecot-keywords.lock`, the file replaced by
 * a rename) when it is not there yet.
 *
 * @throws {Error} When all 26 letters are taken or the lock stays held.
 *
 * @example
 * ```ts ignore
 * const letter = await keywordLetter(fs, "/var/mail/alice", "$POP3Deleted");
 * ```
 */
export async function keywordLetter(
  fs: MaildirFs,
  dir: string,
  keyword: string,
): Promise<string> {
  const known = await findKeywordLetter(fs, dir, keyword);
  if (known !== undefined) return known;
  const lockPath = `${dir}/${LOCK_NAME}`;
  await lock(fs, lockPath);
  try {
    const map = await read(fs, dir);
    const again = letterOf(map, keyword);
    if (again !== undefined) return again;
    let index = 0;
    while (map.has(index)) index++;
    if (index >= MAX_KEYWORDS) {
      throw new Error(
        `Cannot add keyword "${keyword}": the Maildir has 26 keywords already`,
      );
    }
    map.set(index, keyword);
    const text = [...map].sort((a, b) => a[0] - b[0])
      .map(([i, name]) => `${i} ${name}\n`).join("");
    await fs.replaceFile(
      `${dir}/${DOVECOT_KEYWORDS_NAME}`,
      new TextEncoder().encode(text),
    );
    return String.fromCharCode(0x61 + index);
  } finally {
    await fs.unlink(lockPath).catch(() => {});
  }
}

async function lock(fs: MaildirFs, path: string): Promise<void> {
  const content = new TextEncoder().encode(`${fs.pid()}:${fs.hostname()}\n`);
  const until = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    if (await fs.createExclusive(path, content)) return;
    const info = await fs.stat(path);
    if (info !== undefined && Date.now() - info.mtimeMs > STALE_LOCK_MS) {
      await fs.unlink(path);
      continue;
    }
    if (Date.now() >= until) {
      throw new Error(`Cannot lock ${LOCK_NAME}: another process holds it`);
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}
