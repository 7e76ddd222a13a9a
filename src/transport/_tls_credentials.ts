/**
 * Internal: TLS credentials for `node:tls`, which Deno, Bun and Node all
 * ship: PEM checks and one `SecureContext` per listener.
 *
 * @module
 */

import type { SecureContext } from "node:tls";
import type { TlsOptions } from "./types.ts";
import {
  builtinModule,
  requireBuiltinModule,
} from "../_util/builtin_module.ts";

type NodeTls = typeof import("node:tls");

/** Loads `node:tls` synchronously (Deno 2, Bun and Node 20.16+ have `getBuiltinModule`). */
export function nodeTls(): NodeTls {
  return requireBuiltinModule<NodeTls>("node:tls", "TLS");
}

/** Loads `node:net` synchronously, like {@linkcode nodeTls}. */
export function nodeNet(): typeof import("node:net") {
  return requireBuiltinModule<typeof import("node:net")>("node:net", "TLS");
}

/** Checks the shape of a PEM option: a non-empty string or bytes. */
export function checkPem(name: string, value: unknown): void {
  if (typeof value !== "string" && !(value instanceof Uint8Array)) {
    throw new TypeError(`TLS "${name}" must be a PEM string or bytes`);
  }
  if (value.length === 0) {
    throw new TypeError(`TLS "${name}" must not be empty`);
  }
}

const GROUP_LIST = /^[A-Za-z0-9_-]+(?:[:/][A-Za-z0-9_-]+)*$/;

/**
 * Checks a `groups` list: its shape, and that this runtime's TLS knows
 * every group and honours the choice (Deno's `node:tls` ignores it, so
 * there any list is refused rather than silently not applied).
 *
 * @throws {TypeError} Naming `groups`.
 */
export function checkGroups(groups: unknown): void {
  if (typeof groups !== "string" || !GROUP_LIST.test(groups)) {
    throw new TypeError(
      `TLS "groups" must be colon-separated group names such as "X25519:P-256", got ${
        JSON.stringify(groups)
      }`,
    );
  }
  const tls = nodeTls();
  ignoresGroups ??= accepts(tls, "no-such-group");
  if (ignoresGroups) {
    throw new TypeError(
      `TLS "groups" cannot be chosen on this runtime: its TLS ignores the setting`,
    );
  }
  if (!accepts(tls, groups)) {
    throw new TypeError(
      `TLS "groups" names a group this runtime's TLS does not know: ${groups}`,
    );
  }
}

let ignoresGroups: boolean | undefined;

function accepts(tls: NodeTls, groups: string): boolean {
  try {
    tls.createSecureContext({ ecdhCurve: groups });
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks that the certificate and key parse and belong together, here and
 * now: Deno's `node:tls` would only fail later, in each handshake. Checks
 * `groups` too, when given.
 */
export function checkCredentials(options: TlsOptions): void {
  if (options.groups !== undefined) checkGroups(options.groups);
  const crypto = builtinModule<typeof import("node:crypto")>("node:crypto");
  if (!crypto) return;
  let match: boolean;
  try {
    match = new crypto.X509Certificate(pem(options.cert)).checkPrivateKey(
      crypto.createPrivateKey(pem(options.key)),
    );
  } catch (cause) {
    throw new TypeError("Cannot read the TLS certificate or key as PEM", {
      cause,
    });
  }
  if (!match) {
    throw new TypeError("TLS key does not belong to the certificate");
  }
}

/** One `SecureContext` per listener: per connection it would cost ~32 KB each. */
export function secureContext(options: TlsOptions): SecureContext {
  checkCredentials(options);
  const context = nodeTls().createSecureContext({
    cert: pem(options.cert),
    key: pem(options.key),
    ...(options.groups === undefined ? {} : { ecdhCurve: options.groups }),
  });
  ORIGINS.set(context, options);
  return context;
}

// STLS credential swaps: a listener keeps the context it made from the
// `tls` object it was given; a handshake asks for the newest one made for
// that object by `replaceTlsCredentials`.
const ORIGINS = new WeakMap<SecureContext, TlsOptions>();
const REPLACED = new WeakMap<TlsOptions, SecureContext>();

/**
 * Makes listeners opened with `tls` use `next` for new STLS handshakes.
 *
 * @throws {TypeError} When `next` does not parse or does not match.
 */
export function replaceCredentials(tls: TlsOptions, next: TlsOptions): void {
  checkPem("cert", next?.cert);
  checkPem("key", next?.key);
  const context = secureContext(next);
  REPLACED.set(tls, context);
  PEMS.set(tls, bunTls(next));
}

/** Credentials as Bun's own TLS takes them: PEM text, `ecdhCurve` for the groups. */
export interface BunTlsOptions {
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** The key exchange groups (Bun's TLS honours `ecdhCurve`). */
  ecdhCurve?: string;
}

function bunTls(options: TlsOptions): BunTlsOptions {
  const out: BunTlsOptions = { cert: pem(options.cert), key: pem(options.key) };
  if (options.groups !== undefined) out.ecdhCurve = options.groups;
  return out;
}

// The same for Bun's TLS, which takes PEM text: one object per credentials
// (Bun keeps one TLS context for it).
const PEMS = new WeakMap<TlsOptions, BunTlsOptions>();

/**
 * The newest credentials given for `tls` (itself, until a replacement), as
 * Bun's TLS takes them; the same object until the next replacement.
 */
export function currentPem(tls: TlsOptions): BunTlsOptions {
  let current = PEMS.get(tls);
  if (!current) {
    current = bunTls(tls);
    PEMS.set(tls, current);
  }
  return current;
}

/**
 * Checks the newest credentials for `tls` as {@linkcode checkCredentials}
 * does (Bun's TLS would only fail in each handshake).
 *
 * @throws {TypeError} When they do not parse, match, or name a group this
 * runtime does not know.
 */
export function checkCurrent(tls: TlsOptions): void {
  const { cert, key, ecdhCurve } = currentPem(tls);
  checkCredentials(
    ecdhCurve === undefined ? { cert, key } : { cert, key, groups: ecdhCurve },
  );
}

/** The context a handshake should use: the newest one for its listener. */
export function currentContext(context: SecureContext): SecureContext {
  const origin = ORIGINS.get(context);
  return (origin && REPLACED.get(origin)) ?? context;
}

/** PEM as `node:tls` takes it: a string (bytes are decoded as UTF-8). */
export function pem(value: string | Uint8Array): string {
  return typeof value === "string" ? value : new TextDecoder().decode(value);
}
