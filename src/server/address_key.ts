/**
 * Client addresses as the per-address limits see them: IPv4 by full
 * address, IPv6 by prefix (one /64 is usually one customer), and CIDR
 * matching for trusted networks. Pure functions, no runtime API.
 *
 * @module
 */

/** Parses a dotted IPv4 address into 4 bytes, or returns `undefined`. */
function parseV4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    bytes[i] = n;
  }
  return bytes;
}

/** Parses an IPv6 address (with `::`, an IPv4 tail, a zone) into 16 bytes. */
function parseV6(text: string): Uint8Array | undefined {
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  if (!text.includes(":")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const items = half.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseV4(item);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-f]{1,4}$/i.test(item)) {
        out.push(parseInt(item, 16));
      } else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** Whether 16 bytes are an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`). */
function isMapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * Parses an IP address into its bytes: 4 for IPv4 (also for an
 * IPv4-mapped IPv6 address), 16 for IPv6; `undefined` when `text` is not
 * an IP address.
 *
 * @param text An address as a transport reports it.
 * @returns The address bytes, or `undefined`.
 *
 * @example
 * ```ts
 * import { parseIp } from "./address_key.ts";
 * console.assert(parseIp("::ffff:10.0.0.1")?.length === 4);
 * console.assert(parseIp("2001:db8::1")?.length === 16);
 * console.assert(parseIp("memory") === undefined);
 * ```
 */
export function parseIp(text: string): Uint8Array | undefined {
  const v4 = parseV4(text);
  if (v4) return v4;
  const v6 = parseV6(text);
  if (!v6) return undefined;
  return isMapped(v6) ? v6.subarray(12) : v6;
}

/** Keeps the first `bits` bits of `bytes` and zeroes the rest (a copy). */
function masked(bytes: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.min(8, Math.max(0, bits - 8 * i));
    out[i] &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

/**
 * The key under which the per-address limits count a client: an IPv4
 * address as is (also when it comes IPv4-mapped), an IPv6 address cut to
 * its first `prefixV6` bits (`"2001:db8:0:1::/64"`). Anything that is not
 * an IP address (an in-memory transport's name) is its own key.
 *
 * @param address The client's address.
 * @param prefixV6 Bits of an IPv6 address that name one client, 1 to 128.
 * @returns The grouping key.
 *
 * @example Two addresses of one /64 share a key
 * ```ts
 * import { addressKey } from "./address_key.ts";
 * console.assert(
 *   addressKey("2001:db8::1", 64) === addressKey("2001:db8::ffff:2", 64),
 * );
 * console.assert(addressKey("::ffff:192.0.2.7", 64) === "192.0.2.7");
 * ```
 */
export function addressKey(address: string, prefixV6: number): string {
  const bytes = parseIp(address);
  if (!bytes) return address;
  if (bytes.length === 4) return bytes.join(".");
  const m = masked(bytes, prefixV6);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((m[i] << 8) | m[i + 1]).toString(16));
  }
  return `${groups.join(":")}/${prefixV6}`;
}

/** A parsed CIDR block: network bytes and prefix length. */
export interface Cidr {
  /** The network address, 4 or 16 bytes, host bits zeroed. */
  bytes: Uint8Array;
  /** The prefix length in bits. */
  prefix: number;
}

/**
 * Parses `"192.0.2.0/24"`, `"2001:db8::/32"` or a bare address (a /32 or
 * /128).
 *
 * @param text The CIDR block.
 * @returns The parsed block.
 * @throws {RangeError} When `text` is not an address with an optional prefix in range.
 *
 * @example
 * ```ts
 * import { parseCidr } from "./address_key.ts";
 * console.assert(parseCidr("10.0.0.0/8").prefix === 8);
 * ```
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  const bits = ip ? 8 * ip.length : 0;
  const prefix = slash < 0 ? bits : Number(text.slice(slash + 1));
  if (
    !ip || !/^\d{1,3}$/.test(slash < 0 ? "0" : text.slice(slash + 1)) ||
    prefix > bits
  ) {
    throw new RangeError(`Invalid network: "${text.slice(0, 60)}"`);
  }
  return { bytes: masked(ip, prefix), prefix };
}

/**
 * Whether `address` lies in one of `networks`.
 *
 * @param address A client address.
 * @param networks Parsed CIDR blocks.
 * @returns `true` when some block contains the address.
 *
 * @example
 * ```ts
 * import { inNetworks, parseCidr } from "./address_key.ts";
 * const lan = [parseCidr("192.168.0.0/16")];
 * console.assert(inNetworks("::ffff:192.168.1.5", lan));
 * console.assert(!inNetworks("10.0.0.1", lan));
 * ```
 */
export function inNetworks(
  address: string,
  networks: readonly Cidr[],
): boolean {
  if (networks.length === 0) return false;
  const ip = parseIp(address);
  if (!ip) return false;
  for (const net of networks) {
    if (net.bytes.length !== ip.length) continue;
    const m = masked(ip, net.prefix);
    if (m.every((b, i) => b === net.bytes[i])) return true;
  }
  return false;
}
