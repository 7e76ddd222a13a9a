/**
 * Internal: TLS through `node:tls`, which Deno, Bun and Node all ship:
 * credentials, one `SecureContext` per listener, and the server side of
 * STLS over a plain socket or over another runtime's Web streams.
 *
 * @module
 */

import type { Duplex } from "node:stream";
import type { SecureContext, TLSSocket } from "node:tls";
import { fromNodeSocket } from "./_node_conn.ts";
import type { Conn, TlsOptions } from "./types.ts";

type NodeTls = typeof import("node:tls");

/** Loads `node:tls` synchronously (Deno 2, Bun and Node 20.16+ have `getBuiltinModule`). */
export function nodeTls(): NodeTls {
  const host = globalThis as {
    process?: { getBuiltinModule?(id: string): unknown };
  };
  const tls = host.process?.getBuiltinModule?.("node:tls") as
    | NodeTls
    | undefined;
  if (!tls) throw new Error("TLS needs node:tls, which this runtime lacks");
  return tls;
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

/**
 * Checks that the certificate and key parse and belong together, here and
 * now: Deno's `node:tls` would only fail later, in each handshake.
 */
export function checkCredentials(options: TlsOptions): void {
  const host = globalThis as {
    process?: { getBuiltinModule?(id: string): unknown };
  };
  const crypto = host.process?.getBuiltinModule?.("node:crypto") as
    | typeof import("node:crypto")
    | undefined;
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
  return nodeTls().createSecureContext({
    cert: pem(options.cert),
    key: pem(options.key),
  });
}

/** PEM as `node:tls` takes it: a string (bytes are decoded as UTF-8). */
export function pem(value: string | Uint8Array): string {
  return typeof value === "string" ? value : new TextDecoder().decode(value);
}

/**
 * Server side of a TLS handshake over `socket` (a plain socket or a Duplex
 * over another runtime's streams); resolves once the handshake is done.
 */
export function upgradeToTls(
  socket: Duplex,
  context: SecureContext,
): Promise<TLSSocket> {
  const secure = new (nodeTls().TLSSocket)(socket, {
    isServer: true,
    secureContext: context,
  });
  return new Promise((resolve, reject) => {
    const fail = (error: unknown) => {
      secure.destroy();
      socket.destroy();
      reject(error ?? new Error("Connection closed during the TLS handshake"));
    };
    secure.once("secure", () => {
      secure.off("error", fail);
      secure.off("close", fail);
      resolve(secure);
    });
    secure.once("error", fail);
    secure.once("close", () => fail(undefined));
  });
}

/**
 * STLS for a runtime whose own sockets cannot turn into TLS servers (Deno):
 * runs `node:tls` over a Duplex made from the plain connection's Web
 * streams. The caller must hold no lock on `plain`'s streams.
 */
export async function startTlsOverStreams(
  plain: Conn,
  context: SecureContext,
): Promise<Conn> {
  const host = globalThis as {
    process?: { getBuiltinModule?(id: string): unknown };
  };
  const stream = host.process?.getBuiltinModule?.("node:stream") as
    | typeof import("node:stream")
    | undefined;
  if (!stream) {
    throw new Error("STLS needs node:stream, which this runtime lacks");
  }
  const duplex = stream.Duplex.fromWeb({
    readable: plain.readable,
    writable: plain.writable,
  });
  duplex.on("error", () => {});
  duplex.on("close", () => plain.close());
  const secure = fromNodeSocket(await upgradeToTls(duplex, context), true);
  return {
    readable: secure.readable,
    writable: secure.writable,
    remoteAddr: plain.remoteAddr,
    localAddr: plain.localAddr,
    encrypted: true,
    close() {
      secure.close();
      plain.close();
    },
  };
}
