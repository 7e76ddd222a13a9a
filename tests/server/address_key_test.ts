import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  addressKey,
  inNetworks,
  parseCidr,
  parseIp,
} from "../../src/server/address_key.ts";

describe("addressKey", () => {
  it("addressKey keeps a full IPv4 address", () => {
    assert.equal(addressKey("192.0.2.1", 64), "192.0.2.1");
    assert.notEqual(addressKey("192.0.2.1", 64), addressKey("192.0.2.2", 64));
  });

  it("addressKey treats an IPv4-mapped IPv6 address as IPv4", () => {
    assert.equal(addressKey("::ffff:192.0.2.1", 64), "192.0.2.1");
    assert.equal(addressKey("::FFFF:c000:0201", 64), "192.0.2.1");
    assert.equal(addressKey("::ffff:192.0.2.1", 8), "192.0.2.1");
  });

  it("addressKey groups IPv6 addresses by prefix", () => {
    const a = addressKey("2001:db8:1:2:aaaa::1", 64);
    assert.equal(a, "2001:db8:1:2:0:0:0:0/64");
    assert.equal(addressKey("2001:db8:1:2:ffff:ffff:ffff:ffff", 64), a);
    assert.notEqual(addressKey("2001:db8:1:3::1", 64), a);
    assert.equal(
      addressKey("2001:db8:1:3::1", 48),
      addressKey("2001:db8:1::", 48),
    );
    assert.notEqual(addressKey("::1", 128), addressKey("::2", 128));
    assert.equal(addressKey("2001:db8::1", 1), addressKey("::1", 1));
    assert.equal(addressKey("fe80::1%eth0", 64), addressKey("fe80::2", 64));
  });

  it("addressKey masks a prefix that is not a multiple of 8", () => {
    assert.equal(
      addressKey("2001:db8:0:ff::", 57),
      addressKey("2001:db8:0:80::", 57),
    );
    assert.notEqual(
      addressKey("2001:db8:0:ff::", 57),
      addressKey("2001:db8:0:7f::", 57),
    );
  });

  it("addressKey leaves a name that is not an IP address as it is", () => {
    assert.equal(addressKey("memory", 64), "memory");
    assert.equal(addressKey("", 64), "");
    assert.equal(addressKey("1.2.3", 64), "1.2.3");
    assert.equal(addressKey("1:2:3:4:5:6:7:8:9", 64), "1:2:3:4:5:6:7:8:9");
    assert.equal(addressKey("1::2::3", 64), "1::2::3");
    assert.equal(addressKey("256.0.0.1", 64), "256.0.0.1");
  });
});

describe("parseIp", () => {
  it("parseIp reads the forms a transport reports", () => {
    assert.deepEqual([...parseIp("10.1.2.3")!], [10, 1, 2, 3]);
    assert.deepEqual([...parseIp("::ffff:10.1.2.3")!], [10, 1, 2, 3]);
    assert.equal(parseIp("::1")?.length, 16);
    assert.equal(parseIp("[::1]")?.length, 16);
    assert.equal(parseIp("::")?.length, 16);
    assert.equal(parseIp("1:2:3:4:5:6:1.2.3.4")?.length, 16);
    assert.equal(parseIp("1:2:3:4:5:6:7::")?.length, 16);
    assert.equal(parseIp("1:2:3:4:5:6:7:8::"), undefined);
    assert.equal(parseIp("12345::"), undefined);
    assert.equal(parseIp("01.2.3.4x"), undefined);
  });
});

describe("parseCidr and inNetworks", () => {
  it("inNetworks matches IPv4, IPv4-mapped and IPv6 blocks", () => {
    const nets = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.5"].map(parseCidr);
    assert.ok(inNetworks("10.200.1.1", nets));
    assert.ok(inNetworks("::ffff:10.0.0.1", nets));
    assert.ok(inNetworks("2001:db8:ffff::1", nets));
    assert.ok(inNetworks("192.0.2.5", nets));
    assert.ok(!inNetworks("192.0.2.6", nets));
    assert.ok(!inNetworks("11.0.0.1", nets));
    assert.ok(!inNetworks("2001:db9::1", nets));
    assert.ok(!inNetworks("memory", nets));
    assert.ok(!inNetworks("10.0.0.1", []));
    assert.ok(inNetworks("203.0.113.9", [parseCidr("0.0.0.0/0")]));
  });

  it("parseCidr throws a RangeError for a bad block", () => {
    for (
      const bad of [
        "10.0.0.0/33",
        "::/129",
        "x/8",
        "10.0.0.0/",
        "10/8",
        "10.0.0.0/-1",
        "",
      ]
    ) {
      assert.throws(() => parseCidr(bad), RangeError, bad);
    }
  });
});
