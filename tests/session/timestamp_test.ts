import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { timestamp } from "../../src/session/session.ts";
import { randomHex } from "../../src/_util/random.ts";

/** Runs `run` and returns how many times it called the CSPRNG. */
function csprngCalls(run: () => void): number {
  const real = crypto.getRandomValues;
  let calls = 0;
  crypto.getRandomValues = (<T extends ArrayBufferView | null>(array: T) => {
    calls++;
    return real.call(crypto, array as Uint8Array) as unknown as T;
  }) as typeof crypto.getRandomValues;
  try {
    run();
  } finally {
    crypto.getRandomValues = real;
  }
  return calls;
}

describe("timestamp", () => {
  it("timestamp gives distinct RFC 1939 timestamps from few CSPRNG calls", () => {
    const seen = new Set<string>();
    const calls = csprngCalls(() => {
      for (let i = 0; i < 1000; i++) seen.add(timestamp("mx.example"));
    });
    assert.equal(seen.size, 1000);
    for (const t of seen) assert.match(t, /^<[0-9a-f]{16}\.\d+@mx\.example>$/);
    // One call per connection was 1,000.
    assert.ok(calls <= 3, `${calls} getRandomValues calls`);
  });

  it("randomHex draws from one pool for the greetings and the lock tokens, each octet once", () => {
    const tokens = new Set<string>();
    const calls = csprngCalls(() => {
      // A session's worth each: a greeting and a Maildir lock token.
      for (let i = 0; i < 1000; i++) {
        tokens.add(timestamp("mx").slice(1, 17));
        tokens.add(randomHex(12));
      }
      // Larger than the pool: straight from the CSPRNG.
      assert.equal(randomHex(5000).length, 10_000);
    });
    assert.equal(tokens.size, 2000);
    for (const t of tokens) assert.match(t, /^[0-9a-f]{16}([0-9a-f]{8})?$/);
    // 20 KB from a 4 KiB pool, and the large one: one call per session was 2,001.
    assert.ok(calls <= 7, `${calls} getRandomValues calls`);
  });
});
