/**
 * The AUTHORIZATION state: USER, PASS and APOP, the one funnel through
 * which the outcome of every login attempt passes (failures counted,
 * answered at a fixed time from the start of the attempt, reported), and
 * the opening of the maildrop after a success.
 *
 * @module
 */

import { Pop3Error, Pop3SyntaxError } from "../errors.ts";
import { md5Hex } from "../_util/md5.ts";
import { timingSafeEqual } from "../_util/timing_safe_equal.ts";
import type { Command } from "../protocol/command.ts";
import { err, ok } from "../protocol/reply.ts";
import type { MaildropHandle } from "../storage/maildrop_handle.ts";
import { requirePlaintext } from "./capabilities.ts";
import type { SessionContext } from "./context.ts";
import type { LoginMethod } from "./events.ts";
import { Maildrop } from "./maildrop.ts";
import { hasPlaintext } from "./sasl_callbacks.ts";

const NO_PASSWORD = "\u0000no-such-user\u0000";

/** The maildrop of a server without storage: empty, and nothing to lock. */
const EMPTY_MAILDROP: MaildropHandle = {
  count: 0,
  octets: 0,
  size: () => 0,
  uid: () => "",
  get: () => new Uint8Array(0),
  delete: () => [],
  close: () => {},
};

/** One login attempt, as the funnel sees it. */
export interface Attempt {
  /** When the command (or SASL response) that decides it came in. */
  started: number;
  /** How the client tries to log in. */
  method: LoginMethod;
  /** The name the client gave, or `""` when not known (SASL). */
  user: string;
}

/** What checking the credentials found. */
export type Outcome<M> =
  | { ok: true; user: string; mbox: M }
  | { ok: false };

/** Resolves `ms` after `since`, or at once when `signal` aborts. */
function sleepUntil(
  since: number,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  const wait = since + ms - Date.now();
  if (wait <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, wait);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

function failedEvent(
  s: SessionContext,
  user: string,
  method: LoginMethod,
  reason: "credentials" | "in-use" | "error",
): void {
  s.user = null;
  s.emit({
    type: "login-failed",
    id: s.id,
    remote: s.remote,
    user,
    method,
    reason,
  });
}

/**
 * The failure side of the funnel: counts the failure, reports it, answers
 * `failureDelay()` ms after the attempt started (so a quick "no such user"
 * and a slow hash check look the same from outside), and closes the session
 * after `maxAuthFailures`.
 *
 * @param s The session.
 * @param attempt The attempt that failed.
 * @param text The `-ERR [AUTH]` text, or `null` to answer nothing (a SASL
 * error challenge follows instead).
 *
 * @example
 * ```ts ignore
 * await loginFailed(s, { started, method: "USER", user: "bob" });
 * ```
 */
export async function loginFailed(
  s: SessionContext,
  attempt: Attempt,
  text: string | null = "Authentication failed",
): Promise<void> {
  s.authFailures++;
  failedEvent(s, attempt.user, attempt.method, "credentials");
  await sleepUntil(attempt.started, s.config.failureDelay(s.remote), s.signal);
  if (text !== null) s.out.send(err(text, "AUTH"));
  if (s.authFailures >= s.config.maxAuthFailures) {
    s.out.send(err("Too many failed logins, closing connection", "AUTH"));
    s.end("limit");
  }
}

/**
 * Reports an attempt that a callback error ended (the session's error
 * boundary answers it); nothing when the session was ended meanwhile.
 *
 * @example
 * ```ts ignore
 * attemptError(s, attempt);
 * ```
 */
export function attemptError(s: SessionContext, attempt: Attempt): void {
  if (s.signal.aborted) return;
  // The user name stays: the client may try PASS again.
  s.emit({
    type: "login-failed",
    id: s.id,
    remote: s.remote,
    user: attempt.user,
    method: attempt.method,
    reason: "error",
  });
}

/**
 * The funnel: runs the check of one attempt and settles its outcome. A
 * success opens the maildrop; a failure goes to {@linkcode loginFailed}; a
 * callback error is reported as a failed login and answered by the
 * session's error boundary.
 *
 * @example
 * ```ts ignore
 * await authorize(s, attempt, async () => ({ ok: false }));
 * ```
 */
export async function authorize<M>(
  s: SessionContext<M>,
  attempt: Attempt,
  check: () => Promise<Outcome<M>>,
): Promise<void> {
  let outcome: Outcome<M>;
  try {
    outcome = await check();
  } catch (error) {
    attemptError(s, attempt);
    throw error;
  }
  if (!outcome.ok) return await loginFailed(s, attempt);
  await openMaildrop(s, outcome.user, attempt.method, outcome.mbox);
}

/** Locks the maildrop, takes its snapshot and enters TRANSACTION. */
async function openMaildrop<M>(
  s: SessionContext<M>,
  name: string,
  method: LoginMethod,
  mbox: M,
): Promise<void> {
  const store = s.config.storage;
  let handle: MaildropHandle | null;
  try {
    handle = store
      ? await s.call(
        "storage.lock",
        () => store.openMaildrop(mbox, { user: name, signal: s.signal }),
        (late) => {
          if (late) Promise.resolve().then(() => late.close()).catch(() => {});
        },
      )
      : EMPTY_MAILDROP;
  } catch (error) {
    failedEvent(s, name, method, "error");
    throw error;
  }
  if (!handle) {
    failedEvent(s, name, method, "in-use");
    throw new Pop3Error("Mailbox is locked by another session", "IN-USE");
  }
  try {
    s.drop = new Maildrop(handle, s);
  } catch (error) {
    await Promise.resolve().then(() => handle.close()).catch(() => {});
    failedEvent(s, name, method, "error");
    throw error;
  }
  s.user = name;
  s.method = method;
  s.state = "trans";
  s.loggedIn();
  s.emit({ type: "login", id: s.id, remote: s.remote, user: name, method });
  const n = s.drop.count;
  s.out.send(
    ok(
      `${name} has ${n} message${n === 1 ? "" : "s"} (${s.drop.total} octets)`,
    ),
  );
}

/**
 * Calls `auth.lookup` and checks its answer.
 *
 * @throws {TypeError} When `lookup` does not return `[password, mbox]`.
 *
 * @example
 * ```ts ignore
 * const [password, mbox] = await lookup(s, "alice");
 * ```
 */
export async function lookup<M>(
  s: SessionContext<M>,
  name: string,
): Promise<readonly [string, M]> {
  const auth = s.config.auth!;
  const entry = await s.call("auth.lookup", () => auth.lookup(name));
  if (
    !Array.isArray(entry) || entry.length < 2 || typeof entry[0] !== "string"
  ) {
    throw new TypeError('Auth "lookup" must return [password, mbox]');
  }
  return entry as unknown as readonly [string, M];
}

/**
 * Calls `lookup` for an unknown user too, ignoring its result and errors,
 * so that an unknown user and a wrong password call the same callbacks.
 */
async function lookupAlways<M>(
  s: SessionContext<M>,
  name: string,
  exists: boolean,
): Promise<readonly [string, M | undefined]> {
  if (exists) return await lookup(s, name);
  try {
    await lookup(s, name);
  } catch {
    // Expected: the user does not exist.
  }
  return [NO_PASSWORD, undefined];
}

async function exists<M>(s: SessionContext<M>, name: string): Promise<boolean> {
  const auth = s.config.auth!;
  return await s.call("auth.exists", () => auth.exists(name)) === true;
}

/** Checks a plaintext password; the same work whether or not the user exists. */
async function verifyPassword<M>(
  s: SessionContext<M>,
  name: string,
  password: string,
): Promise<Outcome<M>> {
  const auth = s.config.auth;
  if (!auth) return { ok: false };
  if (typeof auth.authenticate === "function") {
    const authenticate = auth.authenticate.bind(auth);
    const passed = await s.call(
      "auth.authenticate",
      () => authenticate(name, password),
    );
    if (passed !== true) return { ok: false };
    const [, mbox] = await lookup(s, name);
    return { ok: true, user: name, mbox };
  }
  const known = await exists(s, name);
  const [expected, mbox] = await lookupAlways(s, name, known);
  const match = timingSafeEqual(expected, password);
  return known && match ? { ok: true, user: name, mbox: mbox as M } : {
    ok: false,
  };
}

/**
 * The maildrop of a SASL identity. An authorization identity that differs
 * from the authenticated one must be a known user: one that `authorize`
 * allows but `lookup` does not know is a failed login, not a server fault.
 *
 * @example
 * ```ts ignore
 * const outcome = await saslIdentity(s, step.user, step.authcid);
 * ```
 */
export async function saslIdentity<M>(
  s: SessionContext<M>,
  user: string,
  authcid: string,
): Promise<Outcome<M>> {
  if (user !== authcid && !await exists(s, user)) return { ok: false };
  const [, mbox] = await lookup(s, user);
  return { ok: true, user, mbox };
}

/**
 * USER: remembers the name for PASS.
 *
 * @example
 * ```ts ignore
 * user(s, parseCommand(encode("USER alice")));
 * ```
 */
export function user(s: SessionContext, cmd: Command): void {
  if (cmd.rest === "") throw new Pop3SyntaxError("Missing user name");
  requirePlaintext(s);
  s.user = cmd.rest;
  s.out.send(ok());
}

/**
 * PASS: checks the password of the name given to USER.
 *
 * @example
 * ```ts ignore
 * await pass(s, parseCommand(encode("PASS secret")));
 * ```
 */
export async function pass(s: SessionContext, cmd: Command): Promise<void> {
  const started = Date.now();
  const name = s.user;
  requirePlaintext(s);
  if (name === null) throw new Pop3Error("No user name given");
  const password = cmd.rest;
  await authorize(
    s,
    { started, method: "USER", user: name },
    () => verifyPassword(s, name, password),
  );
}

/**
 * APOP (RFC 1939 §7): an MD5 digest of the greeting's timestamp and the
 * password.
 *
 * @example
 * ```ts ignore
 * await apop(s, parseCommand(encode("APOP alice c4c9334bac560ecc979e58001b3e22fb")));
 * ```
 */
export async function apop(s: SessionContext, cmd: Command): Promise<void> {
  const started = Date.now();
  const [name, digest] = cmd.args;
  if (!/^[0-9a-fA-F]{32}$/.test(digest)) {
    throw new Pop3SyntaxError("Invalid APOP digest");
  }
  s.user = name;
  const auth = s.config.auth;
  if (auth && !hasPlaintext(auth)) {
    throw new Pop3Error("APOP is not available", "AUTH");
  }
  await authorize(s, { started, method: "APOP", user: name }, async () => {
    if (!auth) return { ok: false };
    const known = await exists(s, name);
    const [password, mbox] = await lookupAlways(s, name, known);
    const match = timingSafeEqual(
      md5Hex(s.timestamp + password),
      digest.toLowerCase(),
    );
    return known && match ? { ok: true, user: name, mbox: mbox as unknown } : {
      ok: false,
    };
  });
}
