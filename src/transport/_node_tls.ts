/**
 * Internal: the server side of TLS through `node:tls`, over a plain
 * `node:net` socket (POP3S, and STLS on Node) or over another runtime's Web
 * streams (STLS on Deno and Bun).
 *
 * @module
 */

import type { Duplex } from "node:stream";
import type { SecureContext, TLSSocket } from "node:tls";
import { fromNodeSocket, type NodeSocket } from "./_node_conn.ts";
import { currentContext, nodeTls } from "./_tls_credentials.ts";
import { requireBuiltinModule } from "../_util/builtin_module.ts";
import type { Conn } from "./types.ts";
import { type ConnWriter, DIRECT_WRITER, directWriter } from "./_direct.ts";

export { secureContext } from "./_tls_credentials.ts";

/**
 * Starts the server side of a TLS handshake over `socket` (a plain socket
 * or a Duplex over another runtime's streams). `secure` exists at once;
 * `handshake` resolves once the handshake is done and rejects (with both
 * sockets destroyed) when it fails or the connection closes first. The end
 * of the client's input counts as a close: a socket that allows half-open
 * connections (STLS on Node's server sockets) or a reset that Deno reports
 * as the end of input would otherwise leave the handshake waiting until a
 * deadline fires.
 */
export function serverTls(
  socket: Duplex,
  context: SecureContext,
): { secure: TLSSocket; handshake: Promise<void> } {
  const secure = new (nodeTls().TLSSocket)(socket, {
    isServer: true,
    secureContext: currentContext(context),
  });
  // Failures are reported once through `handshake`; later ones must not crash.
  secure.on("error", () => {});
  const handshake = new Promise<void>((resolve, reject) => {
    const fail = (error: unknown) => {
      secure.off("secure", done);
      secure.off("error", fail);
      secure.off("close", closed);
      secure.off("end", closed);
      secure.destroy();
      socket.destroy();
      reject(error ?? new Error("Connection closed during the TLS handshake"));
    };
    const closed = () => fail(undefined);
    const done = () => {
      secure.off("error", fail);
      secure.off("close", closed);
      secure.off("end", closed);
      resolve();
    };
    secure.once("secure", done);
    secure.once("error", fail);
    secure.once("close", closed);
    secure.once("end", closed);
  });
  return { secure, handshake };
}

/** Server side of a TLS handshake over `socket`; resolves once it is done. */
export async function upgradeToTls(
  socket: Duplex,
  context: SecureContext,
): Promise<TLSSocket> {
  const { secure, handshake } = serverTls(socket, context);
  await handshake;
  return secure;
}

/**
 * STLS on a `node:net` socket (Node): `TLSSocket` takes over the socket,
 * with any unread bytes. The upgraded connection keeps the plain socket's
 * addresses, and closing it destroys that socket too.
 */
export async function startTlsOnSocket(
  socket: NodeSocket,
  context: SecureContext,
): Promise<Conn> {
  return fromNodeSocket(await upgradeToTls(socket, context), {
    encrypted: true,
    addresses: socket,
    raw: socket,
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
  const stream = requireBuiltinModule<typeof import("node:stream")>(
    "node:stream",
    "STLS",
  );
  const duplex = stream.Duplex.fromWeb({
    readable: plain.readable,
    writable: plain.writable,
  });
  duplex.on("error", () => {});
  duplex.on("close", () => plain.close());
  const secure = fromNodeSocket(await upgradeToTls(duplex, context), {
    encrypted: true,
  });
  const conn: Conn & { [DIRECT_WRITER]?: ConnWriter } = {
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
  // The session writes clear text to the TLS socket's bridge; the records
  // reach the kernel through the plain conn's own writer, whose count of
  // what the kernel took is this conn's progress (Deno's sockets keep one).
  const tlsWriter = directWriter(secure);
  const plainWriter = directWriter(plain);
  if (tlsWriter !== undefined && plainWriter?.progress !== undefined) {
    conn[DIRECT_WRITER] = {
      write: (chunk) => tlsWriter.write(chunk),
      released: () => tlsWriter.released?.(),
      progress: () => plainWriter.progress!(),
      releaseLock() {},
    };
  }
  return conn;
}
