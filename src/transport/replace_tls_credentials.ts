/**
 * Swapping the STLS certificate of a running server, for a renewed
 * certificate: new handshakes use the new one, open sessions go on.
 *
 * @module
 */

import { replaceCredentials } from "./_tls_credentials.ts";
import type { TlsOptions } from "./types.ts";

/**
 * Makes every listener that was opened with the `tls` object `tls` (the
 * `tls` option of `Pop3d`; the built-in adapters look up its newest
 * credentials at each handshake) use `next` for STLS handshakes from now on.
 * Sessions already in TLS keep their certificate. `server.configure("tls",
 * ...)` alone does not reach a listener that is already open; this does.
 *
 * @param tls The very object given as the `tls` option before `up()`.
 * @param next The new PEM certificate chain and key.
 * @throws {TypeError} When `next` is not PEM, does not parse, or the key
 * does not belong to the certificate; the old credentials stay in use.
 *
 * @example Reloading a renewed certificate
 * ```ts ignore
 * import { Pop3d, replaceTlsCredentials } from "@x/pop3d";
 * const tls = { cert: await Deno.readTextFile("cert.pem"), key: await Deno.readTextFile("key.pem") };
 * const server = new Pop3d({ port: 110, tls });
 * await server.up();
 * // ... after renewal:
 * replaceTlsCredentials(tls, {
 *   cert: await Deno.readTextFile("cert.pem"),
 *   key: await Deno.readTextFile("key.pem"),
 * });
 * ```
 *
 * @example Bad credentials are refused and change nothing
 * ```ts
 * import { replaceTlsCredentials } from "@x/pop3d";
 * let threw = false;
 * try {
 *   replaceTlsCredentials({ cert: "old", key: "old" }, { cert: "", key: "" });
 * } catch (error) {
 *   threw = error instanceof TypeError;
 * }
 * console.assert(threw);
 * ```
 */
export function replaceTlsCredentials(tls: TlsOptions, next: TlsOptions): void {
  replaceCredentials(tls, next);
}
