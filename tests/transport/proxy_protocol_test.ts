import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  parseProxyHeader,
  PROXY_V2_SIGNATURE,
  ProxyProtocolError,
} from "../../src/transport/proxy_protocol.ts";
import { prng, randomSplit } from "../_helpers/random.ts";

const te = new TextEncoder();

/** Builds a v2 header by hand, as section 2.2 of HAProxy's spec lays it out. */
function v2(
  verCmd: number,
  famProto: number,
  body: number[],
  tlvs: number[] = [],
): Uint8Array {
  const payload = [...body, ...tlvs];
  return Uint8Array.from([
    ...PROXY_V2_SIGNATURE,
    verCmd,
    famProto,
    payload.length >> 8,
    payload.length & 0xff,
    ...payload,
  ]);
}

const V4_BODY = [
  192,
  0,
  2,
  7, // source
  198,
  51,
  100,
  1, // destination
  0xc8,
  0x22, // 51234
  0x00,
  0x6e, // 110
];
const V6_BODY = [
  0x20,
  0x01,
  0x0d,
  0xb8,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0x01, // 2001:db8::1
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0x01, // ::1
  0x04,
  0xd2, // 1234
  0x00,
  0x18, // 24
];
// A PP2_TYPE_ALPN TLV and a PP2_TYPE_NOOP padding TLV: both skipped.
const TLVS = [0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x03, 0, 0, 0];

/** Feeds the bytes in chunks, as they arrive, until the header is done. */
function incremental(chunks: Uint8Array[]) {
  let buffer = new Uint8Array(0);
  for (const [i, chunk] of chunks.entries()) {
    const next = new Uint8Array(buffer.length + chunk.length);
    next.set(buffer);
    next.set(chunk, buffer.length);
    buffer = next;
    const r = parseProxyHeader(buffer);
    if (r.done) {
      // The rest: what was buffered after the header, then later chunks.
      const rest = [...buffer.subarray(r.length)];
      for (const later of chunks.slice(i + 1)) rest.push(...later);
      return { ...r, rest: Uint8Array.from(rest) };
    }
  }
  throw new Error("header never completed");
}

describe("parseProxyHeader", () => {
  it("parseProxyHeader reads a v1 TCP4 header and leaves the next bytes", () => {
    const bytes = te.encode(
      "PROXY TCP4 192.0.2.7 198.51.100.1 51234 110\r\nUSER alice\r\n",
    );
    const r = parseProxyHeader(bytes);
    assert.ok(r.done);
    assert.equal(r.length, 45);
    assert.deepEqual(r.header, {
      version: 1,
      command: "PROXY",
      protocol: "TCP4",
      source: { hostname: "192.0.2.7", port: 51234 },
      destination: { hostname: "198.51.100.1", port: 110 },
    });
  });

  it("parseProxyHeader reads a v1 TCP6 header and normalises the addresses", () => {
    const r = parseProxyHeader(
      te.encode("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::ffff:10.0.0.1 65535 0\r\n"),
    );
    assert.ok(r.done);
    assert.equal(r.header.source?.hostname, "2001:db8::1");
    assert.equal(r.header.source?.port, 65535);
    assert.equal(r.header.destination?.hostname, "::ffff:10.0.0.1");
  });

  it("parseProxyHeader takes v1 UNKNOWN without addresses", () => {
    const r = parseProxyHeader(
      te.encode("PROXY UNKNOWN ffff::1 whatever\r\nX"),
    );
    assert.ok(r.done);
    assert.equal(r.header.protocol, "UNKNOWN");
    assert.equal(r.header.source, undefined);
    assert.equal(r.length, 32);
  });

  it("parseProxyHeader takes a v1 header of exactly 107 octets and refuses a longer one", () => {
    const max = "PROXY UNKNOWN " + "x".repeat(107 - 16) + "\r\n";
    assert.equal(max.length, 107);
    assert.equal(
      (parseProxyHeader(te.encode(max)) as { length: number }).length,
      107,
    );
    assert.throws(
      () => parseProxyHeader(te.encode("PROXY UNKNOWN " + "x".repeat(100))),
      /longer than 107/,
    );
  });

  it("parseProxyHeader refuses malformed v1 headers", () => {
    for (
      const bad of [
        "PROXY TCP4 192.0.2.7 198.51.100.1 51234\r\n",
        "PROXY TCP4 192.0.2.256 198.51.100.1 1 2\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 1 65536\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 01 2\r\n",
        "PROXY TCP4 ::1 ::1 1 2\r\n",
        "PROXY TCP6 192.0.2.7 ::1 1 2\r\n",
        "PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n",
        "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",
        "PROXY  TCP4 1.2.3.4 1.2.3.4 1 2\r\n",
        "proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n",
        "USER alice\r\n",
        "\x00\x01",
      ]
    ) {
      assert.throws(
        () => parseProxyHeader(te.encode(bad)),
        ProxyProtocolError,
        JSON.stringify(bad),
      );
    }
  });

  it("parseProxyHeader fails a wrong first byte at once, without waiting for more", () => {
    assert.throws(() => parseProxyHeader(te.encode("C")), ProxyProtocolError);
    assert.throws(
      () => parseProxyHeader(te.encode("PROXX")),
      ProxyProtocolError,
    );
    assert.deepEqual(parseProxyHeader(te.encode("PRO")), {
      done: false,
      need: 1,
    });
  });

  it("parseProxyHeader reads a v2 PROXY TCP over IPv4 header", () => {
    const bytes = v2(0x21, 0x11, V4_BODY);
    const r = parseProxyHeader(bytes);
    assert.ok(r.done);
    assert.equal(r.length, 28);
    assert.deepEqual(r.header, {
      version: 2,
      command: "PROXY",
      protocol: "TCP4",
      source: { hostname: "192.0.2.7", port: 51234 },
      destination: { hostname: "198.51.100.1", port: 110 },
    });
  });

  it("parseProxyHeader reads a v2 IPv6 header and skips its TLVs", () => {
    const bytes = v2(0x21, 0x21, V6_BODY, TLVS);
    const r = parseProxyHeader(bytes);
    assert.ok(r.done);
    assert.equal(r.length, 16 + 36 + TLVS.length);
    assert.deepEqual(r.header.source, { hostname: "2001:db8::1", port: 1234 });
    assert.deepEqual(r.header.destination, { hostname: "::1", port: 24 });
  });

  it("parseProxyHeader reads v2 LOCAL and UNSPEC without addresses", () => {
    const local = parseProxyHeader(v2(0x20, 0x00, []));
    assert.ok(local.done);
    assert.equal(local.header.command, "LOCAL");
    assert.equal(local.length, 16);
    // LOCAL with addresses (HAProxy health checks may send them): ignored.
    const localWith = parseProxyHeader(v2(0x20, 0x11, V4_BODY));
    assert.ok(localWith.done && localWith.header.source === undefined);
    const unspec = parseProxyHeader(v2(0x21, 0x00, [1, 2, 3]));
    assert.ok(unspec.done);
    assert.equal(unspec.header.protocol, "UNKNOWN");
    assert.equal(unspec.length, 19);
  });

  it("parseProxyHeader refuses malformed v2 headers", () => {
    const cases: [Uint8Array, RegExp][] = [
      [v2(0x11, 0x11, V4_BODY), /version 1 in the binary form/],
      [v2(0x22, 0x11, V4_BODY), /command 2/],
      [v2(0x21, 0x11, V4_BODY.slice(0, 11)), /cannot hold/],
      [v2(0x21, 0x21, V4_BODY), /cannot hold/],
      [v2(0x21, 0x41, V4_BODY), /address family 4/],
      [v2(0x21, 0x31, [1, 2, 3]), /AF_UNIX/],
    ];
    for (const [bytes, message] of cases) {
      assert.throws(() => parseProxyHeader(bytes), message);
    }
    const badSignature = v2(0x21, 0x11, V4_BODY);
    badSignature[7] = 0x52;
    assert.throws(() => parseProxyHeader(badSignature), /starts with/);
  });

  it("parseProxyHeader asks for exactly the missing v2 octets", () => {
    const bytes = v2(0x21, 0x11, V4_BODY);
    assert.deepEqual(parseProxyHeader(bytes.subarray(0, 5)), {
      done: false,
      need: 11,
    });
    assert.deepEqual(parseProxyHeader(bytes.subarray(0, 20)), {
      done: false,
      need: 8,
    });
  });

  it("parseProxyHeader gives the same header and rest for any split", () => {
    const after = te.encode("CAPA\r\nUSER x\r\n");
    const join = (h: Uint8Array) => {
      const all = new Uint8Array(h.length + after.length);
      all.set(h);
      all.set(after, h.length);
      return all;
    };
    const inputs = [
      join(te.encode("PROXY TCP4 127.0.0.2 127.0.0.1 40000 110\r\n")),
      join(te.encode("PROXY TCP6 ::1 ::1 1 2\r\n")),
      join(v2(0x21, 0x11, V4_BODY)),
      join(v2(0x21, 0x21, V6_BODY, TLVS)),
    ];
    const rand = prng(7);
    for (const input of inputs) {
      const whole = incremental([input]);
      assert.deepEqual(whole.rest, after);
      for (let i = 0; i < 50; i++) {
        const split = incremental(randomSplit(rand, input, 9));
        assert.deepEqual(split.header, whole.header);
        assert.deepEqual(split.rest, after);
      }
      const bytewise = incremental([...input].map((b) => Uint8Array.of(b)));
      assert.deepEqual(bytewise.header, whole.header);
    }
  });
});
