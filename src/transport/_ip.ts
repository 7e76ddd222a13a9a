/**
 * IP address text and CIDR ranges: parsing, formatting and matching, for
 * the PROXY protocol. Internal.
 *
 * @module
 */

/**
 * Parses dotted-quad IPv4 text (no leading zeros) into 4 bytes.
 *
 * @example
 * ```ts
 * import { parseIpv4 } from "./_ip.ts";
 * console.assert(parseIpv4("10.0.0.1")?.[3] === 1);
 * console.assert(parseIpv4("010.0.0.1") === undefined);
 * ```
 */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

/**
 * Parses IPv6 text (with `::` and an optional trailing dotted quad) into
 * 16 bytes. Zone ids (`%eth0`) are refused.
 *
 * @example
 * ```ts
 * import { parseIpv6 } from "./_ip.ts";
 * console.assert(parseIpv6("::1")?.[15] === 1);
 * console.assert(parseIpv6("::ffff:127.0.0.1")?.[12] === 127);
 * ```
 */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]{2,45}$/.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const parts = half.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...head, ...new Array(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * Formats 4 or 16 address bytes as text: dotted quad, or RFC 5952 IPv6
 * (lower case, the longest run of two or more zero groups as `::`, IPv4-
 * mapped addresses as `::ffff:a.b.c.d`).
 *
 * @example
 * ```ts
 * import { formatIp } from "./_ip.ts";
 * console.assert(formatIp(new Uint8Array([127, 0, 0, 2])) === "127.0.0.2");
 * const v6 = new Uint8Array(16);
 * v6[15] = 1;
 * console.assert(formatIp(v6) === "::1");
 * ```
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) &&
    bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return `::ffff:${bytes.subarray(12).join(".")}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${
    hex.slice(bestStart + bestLength).join(":")
  }`;
}

/**
 * An address as bytes for matching: 4 bytes for IPv4 and IPv4-mapped
 * IPv6, 16 for other IPv6; `undefined` for anything else.
 */
function addressBytes(text: string): Uint8Array | undefined {
  if (typeof text !== "string") return undefined;
  const v4 = parseIpv4(text);
  if (v4) return v4;
  const v6 = parseIpv6(text);
  if (!v6) return undefined;
  const mapped = v6.subarray(0, 10).every((b) => b === 0) &&
    v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? v6.slice(12) : v6;
}

/** A parsed CIDR range. */
export interface CidrRange {
  /** The network bytes (4 or 16). */
  readonly bytes: Uint8Array;
  /** The prefix length in bits. */
  readonly prefix: number;
}

/**
 * Parses `address/prefix` (or a bare address: one host).
 *
 * @throws {TypeError} When the text is no address or range.
 * @throws {RangeError} When the prefix is too long for the family.
 *
 * @example
 * ```ts
 * import { matchCidr, parseCidr } from "./_ip.ts";
 * const range = parseCidr("10.0.0.0/8");
 * console.assert(matchCidr(range, "10.1.2.3") && !matchCidr(range, "11.0.0.1"));
 * ```
 */
export function parseCidr(text: string): CidrRange {
  if (typeof text !== "string") {
    throw new TypeError(`Trusted network must be a string, got ${typeof text}`);
  }
  const slash = text.indexOf("/");
  const address = slash === -1 ? text : text.slice(0, slash);
  const bytes = addressBytes(address.trim());
  if (!bytes) {
    throw new TypeError(`Invalid trusted network: "${text.slice(0, 60)}"`);
  }
  const max = bytes.length * 8;
  let prefix = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(p)) {
      throw new TypeError(`Invalid prefix length in "${text.slice(0, 60)}"`);
    }
    // An IPv4-mapped range such as ::ffff:10.0.0.0/104 counts from bit 96.
    prefix = bytes.length === 4 && address.includes(":")
      ? Number(p) - 96
      : Number(p);
    if (prefix < 0 || prefix > max) {
      throw new RangeError(
        `Prefix length out of range in "${text.slice(0, 60)}"`,
      );
    }
  }
  return { bytes, prefix };
}

/**
 * Whether an address lies in a range. IPv4-mapped IPv6 addresses match
 * IPv4 ranges.
 */
export function matchCidr(range: CidrRange, address: string): boolean {
  const bytes = addressBytes(address);
  if (!bytes || bytes.length !== range.bytes.length) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i] & mask) !== (range.bytes[i] & mask)) return false;
  }
  return true;
}
