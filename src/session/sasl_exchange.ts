/**
 * AUTH (RFC 5034): a SASL exchange driven by the session's main read loop.
 * AUTH starts it; while it waits for the client, the run loop hands the next
 * line to {@linkcode saslResponse} instead of parsing a command. Every end
 * of an exchange other than success (cancel, bad base64, an over-long
 * response, a mechanism failure) goes through the failure funnel.
 *
 * @module
 */

import { Pop3SyntaxError } from "../errors.ts";
import { createSaslMechanism } from "../auth/sasl/create_sasl_mechanism.ts";
import type { SaslMechanism, SaslStep } from "../auth/sasl/types.ts";
import { decodeBase64, encodeBase64 } from "../_util/base64.ts";
import type { Command } from "../protocol/command.ts";
import { LINE_TOO_LONG } from "../protocol/line_framer.ts";
import { err } from "../protocol/reply.ts";
import {
  type Attempt,
  attemptError,
  authorize,
  loginFailed,
  saslIdentity,
} from "./authorization.ts";
import {
  mechanisms,
  plaintextAllowed,
  requirePlaintext,
} from "./capabilities.ts";
import type { SessionContext } from "./context.ts";
import type { LoginMethod } from "./events.ts";
import { saslCallbacks } from "./sasl_callbacks.ts";

const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);
const CLEARTEXT = ["PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"];

/**
 * One SASL exchange between AUTH and its outcome.
 *
 * @example
 * ```ts ignore
 * s.sasl = new SaslExchange("SASL PLAIN");
 * ```
 */
export class SaslExchange {
  /** How the session will have logged in. */
  readonly method: LoginMethod;
  /** The mechanism; set once created. */
  mechanism: SaslMechanism | undefined;
  /** `verifyToken` said no: the next challenge is an error challenge. */
  tokenRejected = false;
  /** The failure was already counted (before the error challenge). */
  counted = false;

  /** @param method How the session will have logged in. */
  constructor(method: LoginMethod) {
    this.method = method;
  }
}

/**
 * AUTH: without arguments lists the mechanisms; with one starts an exchange.
 *
 * @throws {Pop3SyntaxError} For a mechanism that is not on offer (a bad command).
 *
 * @example
 * ```ts ignore
 * await auth(s, parseCommand(encode("AUTH PLAIN")));
 * ```
 */
export async function auth(s: SessionContext, cmd: Command): Promise<void> {
  const started = Date.now();
  if (cmd.args.length === 0) {
    s.out.send(
      ["+OK Supported SASL mechanisms follow", ...mechanisms(s), ".", ""]
        .join("\r\n"),
    );
    return;
  }
  const [name, initial] = cmd.args;
  const upper = name.toUpperCase();
  const exchange = new SaslExchange(`SASL ${upper}`);
  const backend = s.config.auth;
  exchange.mechanism = backend
    ? createSaslMechanism(
      name,
      saslCallbacks(
        backend,
        (what, fn) => s.call(what, fn),
        () => exchange.tokenRejected = true,
      ),
      {
        cleartext: plaintextAllowed(s),
        cramMd5: { hostname: s.config.serverName },
      },
    )
    : undefined;
  const mechanism = exchange.mechanism;
  if (!mechanism) {
    if (CLEARTEXT.includes(upper) && backend && !plaintextAllowed(s)) {
      requirePlaintext(s);
    }
    throw new Pop3SyntaxError("Unrecognized authentication type");
  }
  const attempt = { started, method: exchange.method, user: "" };
  let response: Uint8Array | undefined;
  if (initial !== undefined) {
    response = initial === "=" ? EMPTY : decodeBase64(initial);
    if (response === undefined) {
      return await loginFailed(
        s,
        attempt,
        "Invalid base64 in initial response",
      );
    }
  }
  await advance(s, exchange, attempt, () => mechanism.start(response));
}

/**
 * Takes the client's answer to a challenge (the run loop's next line while
 * an exchange waits).
 *
 * @example
 * ```ts ignore
 * if (s.sasl) await saslResponse(s, line);
 * ```
 */
export async function saslResponse(
  s: SessionContext,
  line: Uint8Array | typeof LINE_TOO_LONG,
): Promise<void> {
  const exchange = s.sasl!;
  s.sasl = undefined;
  const attempt = { started: Date.now(), method: exchange.method, user: "" };
  s.observer.transcript(s.id, "C", "<redacted>");
  if (line === LINE_TOO_LONG) {
    return await settleFailure(
      s,
      exchange,
      attempt,
      "Authentication response too long",
    );
  }
  const text = decoder.decode(line).trim();
  if (text === "*") {
    return await settleFailure(
      s,
      exchange,
      attempt,
      "Authentication cancelled",
    );
  }
  const bytes = decodeBase64(text);
  if (bytes === undefined) {
    return await settleFailure(
      s,
      exchange,
      attempt,
      "Invalid base64 in authentication response",
    );
  }
  await advance(s, exchange, attempt, () => exchange.mechanism!.step(bytes));
}

/** Runs one step of the mechanism and acts on what it says. */
async function advance(
  s: SessionContext,
  exchange: SaslExchange,
  attempt: Attempt,
  next: () => Promise<SaslStep>,
): Promise<void> {
  let step: SaslStep;
  try {
    step = await next();
  } catch (error) {
    attemptError(s, attempt);
    throw error;
  }
  if (step.type === "challenge") {
    if (exchange.tokenRejected && !exchange.counted) {
      // The error challenge tells the client its token was refused: count
      // (and pad) the failure before it, so a cancel cannot make it free.
      exchange.counted = true;
      await loginFailed(s, attempt, null);
      if (s.ending) return;
    }
    s.sasl = exchange;
    s.out.send(`+ ${encodeBase64(step.challenge)}\r\n`);
    return;
  }
  if (step.type === "failure") {
    return await settleFailure(s, exchange, attempt, "Authentication failed");
  }
  const { user, authcid } = step;
  await authorize(
    s,
    { ...attempt, user },
    () => saslIdentity(s, user, authcid),
  );
}

/** Ends an exchange in failure: through the funnel, once. */
async function settleFailure(
  s: SessionContext,
  exchange: SaslExchange,
  attempt: Attempt,
  text: string,
): Promise<void> {
  if (exchange.counted) {
    s.out.send(err(text, "AUTH"));
    return;
  }
  await loginFailed(s, attempt, text);
}
