/**
 * The PROXY protocol header, versions 1 (text) and 2 (binary), as HAProxy
 * specifies it: a sans-I/O parser that reports how many octets the header
 * takes, so the bytes after it stay with the connection.
 *
 * @module
 */

import type { NetAddr } from "./types.ts";
import { formatIp, parseIpv4, parseIpv6 } from "./_ip.ts";

/** The 12 octets every version 2 header starts with. */
export const PROXY_V2_SIGNATURE: Uint8Array = Uint8Array.from([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);

/** The longest version 1 header, CRLF included. */
export const PROXY_V1_MAX_LENGTH = 107;

const V1_PREFIX = Uint8Array.from("PROXY ", (c) => c.charCodeAt(0));

/**
 * A malformed PROXY header, a missing one, or one that may not be sent
 * (from an untrusted address). The message never contains the client's
 * bytes beyond a short, sanitised excerpt.
 *
 * @example
 * ```ts
 * import { ProxyProtocolError } from "@x/pop3d";
 * const error = new ProxyProtocolError("Invalid PROXY header");
 * console.assert(error.name === "ProxyProtocolError");
 * ```
 */
export class ProxyProtocolError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProxyProtocolError";
  }
}

/** A parsed PROXY header. */
export interface ProxyHeader {
  /** 1 for the text form, 2 for the binary form. */
  readonly version: 1 | 2;
  /**
   * `"PROXY"`: relayed for a client; `"LOCAL"` (version 2 only): the
   * proxy's own connection, such as a health check, whose addresses must
   * be ignored.
   */
  readonly command: "PROXY" | "LOCAL";
  /**
   * The client's protocol and family; `"UNKNOWN"` for version 1's
   * `UNKNOWN`, version 2's `UNSPEC` or a family this parser does not map
   * (AF_UNIX). Only TCP4/TCP6/UDP4/UDP6 carry addresses.
   */
  readonly protocol: "TCP4" | "TCP6" | "UDP4" | "UDP6" | "UNIX" | "UNKNOWN";
  /** The client's address and port, when the header carries them. */
  readonly source?: NetAddr;
  /** The address and port the client connected to, when carried. */
  readonly destination?: NetAddr;
}

/** What {@linkcode parseProxyHeader} found in the bytes so far. */
export type ProxyParseResult =
  | {
    /** More bytes are needed. */
    readonly done: false;
    /** Octets still missing at least (1 while the length is unknown). */
    readonly need: number;
  }
  | {
    /** The header is complete. */
    readonly done: true;
    /** The header. */
    readonly header: ProxyHeader;
    /** Its length in octets: the bytes from here on belong to the client. */
    readonly length: number;
  };

function excerpt(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes.subarray(0, 24)) {
    text += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
  }
  return JSON.stringify(text);
}

/**
 * Parses a PROXY protocol header (v1 or v2) at the start of `bytes`: the
 * bytes received so far on a connection. Call it again with more bytes
 * while it answers `done: false`; once `done`, exactly `length` octets are
 * the header. It never needs more than 107 octets for version 1, or 16
 * plus the announced length (at most 65551) for version 2. TLVs of version
 * 2 are skipped.
 *
 * @param bytes The first bytes of the connection.
 * @returns Whether the header is complete, and if so what it says.
 * @throws {ProxyProtocolError} When the bytes are no valid header.
 *
 * @example A version 1 header followed by a POP3 command
 * ```ts
 * import { parseProxyHeader } from "@x/pop3d";
 *
 * const bytes = new TextEncoder().encode(
 *   "PROXY TCP4 192.0.2.7 198.51.100.1 51234 110\r\nCAPA\r\n",
 * );
 * const result = parseProxyHeader(bytes);
 * console.assert(result.done && result.header.source?.hostname === "192.0.2.7");
 * console.assert(result.done && result.length === bytes.length - 6);
 * console.assert(!parseProxyHeader(bytes.subarray(0, 10)).done);
 * ```
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyParseResult {
  if (bytes.length === 0) return { done: false, need: 1 };
  if (bytes[0] === 0x50) return parseV1(bytes); // "P"
  if (bytes[0] === 0x0d) return parseV2(bytes);
  throw new ProxyProtocolError(
    `Invalid PROXY header: starts with ${excerpt(bytes)}`,
  );
}

/** Throws unless `bytes` so far agree with `prefix`. */
function checkPrefix(bytes: Uint8Array, prefix: Uint8Array): void {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== prefix[i]) {
      throw new ProxyProtocolError(
        `Invalid PROXY header: starts with ${excerpt(bytes)}`,
      );
    }
  }
}

function parseV1(bytes: Uint8Array): ProxyParseResult {
  checkPrefix(bytes, V1_PREFIX);
  const lf = bytes.subarray(0, PROXY_V1_MAX_LENGTH).indexOf(0x0a);
  if (lf === -1) {
    if (bytes.length >= PROXY_V1_MAX_LENGTH) {
      throw new ProxyProtocolError(
        "Invalid PROXY header: version 1 line longer than 107 octets",
      );
    }
    return { done: false, need: 1 };
  }
  if (lf === 0 || bytes[lf - 1] !== 0x0d) {
    throw new ProxyProtocolError(
      "Invalid PROXY header: version 1 line does not end with CRLF",
    );
  }
  let text = "";
  for (const b of bytes.subarray(0, lf - 1)) {
    if (b < 0x20 || b > 0x7e) {
      throw new ProxyProtocolError(
        "Invalid PROXY header: control or 8-bit octet in version 1 line",
      );
    }
    text += String.fromCharCode(b);
  }
  const parts = text.split(" ");
  const length = lf + 1;
  if (parts[1] === "UNKNOWN") {
    // The rest of the line is to be ignored (HAProxy's spec, 2.1).
    return {
      done: true,
      length,
      header: { version: 1, command: "PROXY", protocol: "UNKNOWN" },
    };
  }
  if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6")) {
    throw new ProxyProtocolError(
      `Invalid PROXY header: ${excerpt(bytes.subarray(0, lf - 1))}`,
    );
  }
  const protocol = parts[1];
  const parse = protocol === "TCP4" ? parseIpv4 : parseIpv6;
  const src = parse(parts[2]);
  const dst = parse(parts[3]);
  const sport = port(parts[4]);
  const dport = port(parts[5]);
  if (!src || !dst || sport === undefined || dport === undefined) {
    throw new ProxyProtocolError(
      `Invalid PROXY header: bad address or port in ${
        excerpt(bytes.subarray(6, lf - 1))
      }`,
    );
  }
  return {
    done: true,
    length,
    header: {
      version: 1,
      command: "PROXY",
      protocol,
      source: { hostname: formatIp(src), port: sport },
      destination: { hostname: formatIp(dst), port: dport },
    },
  };
}

function port(text: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

function parseV2(bytes: Uint8Array): ProxyParseResult {
  checkPrefix(bytes, PROXY_V2_SIGNATURE);
  if (bytes.length < 16) return { done: false, need: 16 - bytes.length };
  const version = bytes[12] >> 4;
  const command = bytes[12] & 0x0f;
  if (version !== 2) {
    throw new ProxyProtocolError(
      `Invalid PROXY header: version ${version} in the binary form`,
    );
  }
  if (command > 1) {
    throw new ProxyProtocolError(`Invalid PROXY header: command ${command}`);
  }
  const family = bytes[13] >> 4;
  const transport = bytes[13] & 0x0f;
  const payload = (bytes[14] << 8) | bytes[15];
  const length = 16 + payload;
  if (bytes.length < length) {
    return { done: false, need: length - bytes.length };
  }
  if (command === 0) {
    return {
      done: true,
      length,
      header: { version: 2, command: "LOCAL", protocol: "UNKNOWN" },
    };
  }
  if (family > 3 || transport > 2) {
    throw new ProxyProtocolError(
      `Invalid PROXY header: address family ${family}, transport ${transport}`,
    );
  }
  if (family === 0 || transport === 0 || family === 3) {
    // UNSPEC, or AF_UNIX: no IP address to take over.
    if (family === 3 && payload < 216) {
      throw new ProxyProtocolError(
        "Invalid PROXY header: AF_UNIX addresses are truncated",
      );
    }
    return {
      done: true,
      length,
      header: {
        version: 2,
        command: "PROXY",
        protocol: family === 3 ? "UNIX" : "UNKNOWN",
      },
    };
  }
  const size = family === 1 ? 4 : 16;
  if (payload < 2 * size + 4) {
    throw new ProxyProtocolError(
      `Invalid PROXY header: ${payload} octets cannot hold the addresses`,
    );
  }
  const body = bytes.subarray(16, length);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const protocol = family === 1
    ? (transport === 1 ? "TCP4" : "UDP4")
    : (transport === 1 ? "TCP6" : "UDP6");
  return {
    done: true,
    length,
    header: {
      version: 2,
      command: "PROXY",
      protocol,
      source: {
        hostname: formatIp(body.subarray(0, size)),
        port: view.getUint16(2 * size),
      },
      destination: {
        hostname: formatIp(body.subarray(size, 2 * size)),
        port: view.getUint16(2 * size + 2),
      },
    },
  };
}
