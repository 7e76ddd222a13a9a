import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AuthPenalty,
  type AuthPenaltySettings,
} from "../../src/server/auth_penalty.ts";

function tracker(overrides: Partial<AuthPenaltySettings> = {}) {
  let now = 1_000_000;
  const penalty = new AuthPenalty({
    initial: 1000,
    max: 15_000,
    window: 3_600_000,
    trusted: [],
    prefixV6: 64,
    now: () => now,
    ...overrides,
  });
  return { penalty, advance: (ms: number) => now += ms };
}

describe("AuthPenalty", () => {
  it("AuthPenalty doubles with each recent failure up to the cap", () => {
    const { penalty } = tracker();
    const seen = [penalty.delayFor("192.0.2.1")];
    for (let i = 0; i < 7; i++) {
      penalty.failed("192.0.2.1");
      seen.push(penalty.delayFor("192.0.2.1"));
    }
    assert.deepEqual(seen, [0, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
    assert.equal(penalty.delayFor("192.0.2.2"), 0, "other addresses are free");
    assert.equal(penalty.size, 1);
  });

  it("AuthPenalty stays at the cap after very many failures", () => {
    const { penalty } = tracker({ initial: 60_000, max: 60_000 });
    for (let i = 0; i < 10_000; i++) penalty.failed("192.0.2.1");
    assert.equal(penalty.delayFor("192.0.2.1"), 60_000);
  });

  it("AuthPenalty forgets failures a window after the last one", () => {
    const { penalty, advance } = tracker({ window: 60_000 });
    penalty.failed("192.0.2.1");
    advance(50_000);
    penalty.failed("192.0.2.1");
    advance(50_000);
    assert.equal(
      penalty.delayFor("192.0.2.1"),
      2000,
      "still within the window",
    );
    advance(10_000);
    assert.equal(penalty.delayFor("192.0.2.1"), 0);
    assert.equal(penalty.size, 0);
    penalty.failed("192.0.2.1");
    assert.equal(penalty.delayFor("192.0.2.1"), 1000, "counting starts again");
  });

  it("AuthPenalty forgets an address after a successful login from it", () => {
    const { penalty } = tracker();
    penalty.failed("192.0.2.1");
    penalty.failed("192.0.2.1");
    penalty.failed("192.0.2.9");
    penalty.succeeded("192.0.2.1");
    assert.equal(penalty.delayFor("192.0.2.1"), 0);
    assert.equal(penalty.delayFor("192.0.2.9"), 1000);
  });

  it("AuthPenalty counts one IPv6 prefix together and IPv4-mapped as IPv4", () => {
    const { penalty } = tracker({ prefixV6: 64 });
    penalty.failed("2001:db8:0:1::1");
    penalty.failed("2001:db8:0:1::2");
    assert.equal(penalty.delayFor("2001:db8:0:1:ffff::9"), 2000);
    assert.equal(penalty.delayFor("2001:db8:0:2::1"), 0);
    penalty.failed("::ffff:192.0.2.1");
    assert.equal(penalty.delayFor("192.0.2.1"), 1000);
  });

  it("AuthPenalty exempts trusted networks", () => {
    const { penalty } = tracker({ trusted: ["10.0.0.0/8", "::1"] });
    for (let i = 0; i < 5; i++) {
      penalty.failed("10.1.2.3");
      penalty.failed("::1");
    }
    assert.equal(penalty.delayFor("10.1.2.3"), 0);
    assert.equal(penalty.delayFor("::1"), 0);
    assert.equal(penalty.size, 0);
    penalty.failed("127.0.0.1");
    assert.equal(
      penalty.delayFor("127.0.0.1"),
      1000,
      "loopback is not exempt by default",
    );
  });

  it("AuthPenalty with initial 0 is off", () => {
    const { penalty } = tracker({ initial: 0 });
    penalty.failed("192.0.2.1");
    assert.equal(penalty.delayFor("192.0.2.1"), 0);
    assert.equal(penalty.size, 0);
  });

  it("AuthPenalty remembers a bounded number of addresses, dropping the least recently failed", () => {
    const { penalty } = tracker({ maxAddresses: 100 });
    for (let i = 0; i < 1000; i++) {
      penalty.failed(`2001:db8:${i.toString(16)}::1`);
    }
    assert.equal(penalty.size, 100);
    assert.equal(penalty.delayFor("2001:db8:0::1"), 0);
    assert.equal(penalty.delayFor("2001:db8:3e7::1"), 1000);
  });

  it("AuthPenalty keeps its counts across configure", () => {
    const { penalty } = tracker();
    penalty.failed("192.0.2.1");
    penalty.failed("192.0.2.1");
    penalty.configure({
      initial: 100,
      max: 150,
      window: 3_600_000,
      trusted: [],
      prefixV6: 64,
      now: () => 1_000_000,
    });
    assert.equal(penalty.delayFor("192.0.2.1"), 150);
    assert.throws(
      () =>
        penalty.configure({
          initial: 100,
          max: 150,
          window: 1,
          trusted: ["nope"],
          prefixV6: 64,
        }),
      RangeError,
    );
  });
});

describe("AuthPenalty defaults", () => {
  it("DEFAULTS turn the auth penalty on, cap it at 15 s and exempt no network", async () => {
    const { DEFAULTS } = await import("../../src/server/options.ts");
    assert.equal(DEFAULTS.authPenalty, 1000);
    assert.ok(DEFAULTS.authPenaltyMax <= 15_000);
    assert.equal(DEFAULTS.authPenaltyWindow, 3_600_000);
    assert.deepEqual(DEFAULTS.authPenaltyTrusted, []);
    assert.equal(DEFAULTS.addressPrefixV6, 64);
  });
});
