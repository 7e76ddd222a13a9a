import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { timestamp } from "../../src/session/session.ts";

describe("timestamp", () => {
  it("timestamp gives distinct RFC 1939 timestamps from few CSPRNG calls", () => {
    const real = crypto.getRandomValues;
    let calls = 0;
    crypto.getRandomValues = (<T extends ArrayBufferView | null>(array: T) => {
      calls++;
      return real.call(crypto, array as Uint8Array) as unknown as T;
    }) as typeof crypto.getRandomValues;
    const seen = new Set<string>();
    try {
      for (let i = 0; i < 1000; i++) seen.add(timestamp("mx.example"));
    } finally {
      crypto.getRandomValues = real;
    }
    assert.equal(seen.size, 1000);
    for (const t of seen) assert.match(t, /^<[0-9a-f]{16}\.\d+@mx\.example>$/);
    // One call per connection was 1,000.
    assert.ok(calls <= 3, `${calls} getRandomValues calls`);
  });
});
