/**
 * A TLS 1.3 ClientHello built by hand, to see which key exchange group a
 * server picks and whether it asks for another key share first (a
 * HelloRetryRequest). No TLS client of the three runtimes lets a test
 * choose the groups it lists and the shares it sends separately.
 *
 * @module
 */

import { connect, type Socket } from "node:net";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";

/** IANA group ids (RFC 8446 §4.2.7, and the hybrid post-quantum one). */
export const GROUP = {
  P256: 0x0017,
  X25519: 0x001d,
  X25519MLKEM768: 0x11ec,
} as const;

/** The ServerHello's random of a HelloRetryRequest (RFC 8446 §4.1.3). */
const HRR_RANDOM =
  "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c";

/** What the server answered to the ClientHello. */
export interface HelloAnswer {
  /** It asked for another key share (a HelloRetryRequest). */
  retry: boolean;
  /** The group of its key share, or the group it asked for. */
  group: number;
}

function u16(n: number): number[] {
  return [n >> 8, n & 0xff];
}

function u24(n: number): number[] {
  return [n >> 16, (n >> 8) & 0xff, n & 0xff];
}

function extension(type: number, body: number[]): number[] {
  return [...u16(type), ...u16(body.length), ...body];
}

/**
 * A ClientHello for TLS 1.3 listing `groups` as supported and sending an
 * X25519 key share (32 random bytes) when `groups` has X25519.
 */
export function clientHello(groups: number[]): Uint8Array {
  const list = groups.flatMap(u16);
  const shares = groups.includes(GROUP.X25519)
    ? [...u16(GROUP.X25519), ...u16(32), ...randomBytes(32)]
    : [];
  const extensions = [
    ...extension(0x002b, [2, ...u16(0x0304)]), // supported_versions: 1.3
    ...extension(0x000a, [...u16(list.length), ...list]), // supported_groups
    ...extension(0x0033, [...u16(shares.length), ...shares]), // key_share
    // signature_algorithms: rsa_pss_rsae_sha256, ecdsa_secp256r1_sha256
    ...extension(0x000d, [...u16(4), ...u16(0x0804), ...u16(0x0403)]),
  ];
  const suites = [0x1301, 0x1302, 0x1303].flatMap(u16);
  const body = [
    ...u16(0x0303), // legacy_version
    ...randomBytes(32),
    32,
    ...randomBytes(32), // legacy_session_id
    ...u16(suites.length),
    ...suites,
    1,
    0, // compression: null
    ...u16(extensions.length),
    ...extensions,
  ];
  const handshake = [1, ...u24(body.length), ...body];
  return new Uint8Array([0x16, 3, 1, ...u16(handshake.length), ...handshake]);
}

/** Reads the server's ServerHello (or HelloRetryRequest) in `bytes`. */
export function parseServerHello(bytes: Uint8Array): HelloAnswer {
  if (bytes[0] !== 0x16 || bytes[5] !== 2) {
    throw new Error(
      `Expected a ServerHello record, got ${
        Buffer.from(bytes.subarray(0, 8)).toString("hex")
      }`,
    );
  }
  const random = Buffer.from(bytes.subarray(11, 43)).toString("hex");
  let at = 43;
  at += 1 + bytes[at]; // session id
  at += 3; // cipher suite, compression
  const end = at + 2 + ((bytes[at] << 8) | bytes[at + 1]);
  at += 2;
  while (at < end) {
    const type = (bytes[at] << 8) | bytes[at + 1];
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (type === 0x0033) {
      return {
        retry: random === HRR_RANDOM,
        group: (bytes[at + 4] << 8) | bytes[at + 5],
      };
    }
    at += 4 + length;
  }
  throw new Error("The ServerHello has no key_share");
}

/** Bytes from `socket` until `enough` says so, or an error at its end. */
function readUntil(
  socket: Socket,
  enough: (bytes: Uint8Array) => boolean,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let got = new Uint8Array(0);
    const done = (error?: Error) => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", done);
      if (error) reject(error);
      else resolve(got);
    };
    const onData = (chunk: Uint8Array) => {
      got = Buffer.concat([got, chunk]);
      if (enough(got)) done();
    };
    const onEnd = () => done(new Error("The server closed the connection"));
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", done);
  });
}

const wholeRecord = (b: Uint8Array) =>
  b.length >= 5 && b.length >= 5 + ((b[3] << 8) | b[4]);

/**
 * Connects to a POP3 server on loopback, says STLS first when `stls`, sends
 * a ClientHello listing `groups` (an X25519 share only), and returns what
 * the server's first handshake message says.
 */
export async function helloAnswer(
  port: number,
  groups: number[],
  stls = false,
): Promise<HelloAnswer> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    if (stls) {
      const line = (b: Uint8Array) => b.includes(10);
      await readUntil(socket, line); // the greeting
      socket.write("STLS\r\n");
      const reply = await readUntil(socket, line);
      if (!Buffer.from(reply).toString("latin1").startsWith("+OK")) {
        throw new Error(`STLS refused: ${Buffer.from(reply).toString()}`);
      }
    }
    socket.write(clientHello(groups));
    return parseServerHello(await readUntil(socket, wholeRecord));
  } finally {
    socket.destroy();
  }
}
