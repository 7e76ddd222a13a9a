import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Deadlines } from "../../src/session/deadlines.ts";
import type { SessionConfig } from "../../src/session/config.ts";
import { sessionConfig } from "../../src/server/session_config.ts";
import { DEFAULTS } from "../../src/server/options.ts";

function config(overrides: Partial<SessionConfig>): SessionConfig {
  return { ...sessionConfig(DEFAULTS, () => 0), ...overrides };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Deadlines", () => {
  it("Deadlines expire at loginTimeout however often there is activity", async () => {
    let expired = 0;
    const d = new Deadlines(
      config({ loginTimeout: 200, idleTimeout: 60_000 }),
      { stalledSince: 0 },
      () => expired++,
    );
    d.start();
    const t0 = Date.now();
    while (expired === 0 && Date.now() - t0 < 3000) {
      d.activity();
      d.waiting(true);
      await sleep(20);
      d.waiting(false);
    }
    assert.equal(expired, 1);
    assert.ok(Date.now() - t0 >= 150);
    d.stop();
  });

  it("Deadlines after login expire only on silence while waiting", async () => {
    let expired = 0;
    const d = new Deadlines(
      config({ loginTimeout: 50, idleTimeout: 150 }),
      { stalledSince: 0 },
      () => expired++,
    );
    d.start();
    d.loggedIn();
    await sleep(120);
    assert.equal(expired, 0, "not waiting for a command: no deadline");
    d.activity();
    d.waiting(true);
    await sleep(400);
    assert.equal(expired, 1);
    d.stop();
  });

  it("Deadlines expire a write that makes no progress for writeTimeout, not one that progresses", async () => {
    let expired = 0;
    const progress = { stalledSince: 0 };
    const d = new Deadlines(
      config({ writeTimeout: 400 }),
      progress,
      () => expired++,
    );
    d.start();
    d.loggedIn();
    progress.stalledSince = Date.now();
    d.update();
    for (let i = 0; i < 10; i++) {
      await sleep(50);
      progress.stalledSince = Date.now(); // a piece was accepted
    }
    assert.equal(expired, 0, "steady progress is not a stall");
    await sleep(1000);
    assert.equal(expired, 1);
    d.stop();
  });

  it("Deadlines of many sessions share one timer and still expire each at its own time", async () => {
    const realSetTimeout = globalThis.setTimeout;
    let armed = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      armed++;
      return realSetTimeout(...args);
    }) as typeof setTimeout;
    const expired: number[] = [];
    const all: Deadlines[] = [];
    try {
      // Started late to early: each new one is the earliest.
      for (let i = 0; i < 3; i++) {
        const d = new Deadlines(
          config({ loginTimeout: 300 - 100 * i, idleTimeout: 60_000 }),
          { stalledSince: 0 },
          () => expired.push(i),
        );
        d.start();
        all.push(d);
      }
      const before = armed;
      // 200 more sessions, all due later: no timer of their own.
      for (let i = 0; i < 200; i++) {
        const d = new Deadlines(
          config({ loginTimeout: 60_000, idleTimeout: 60_000 }),
          { stalledSince: 0 },
          () => expired.push(-1),
        );
        d.start();
        d.waiting(true);
        all.push(d);
      }
      assert.ok(
        armed - before <= 1,
        `${armed - before} timers for 200 sessions`,
      );
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    const t0 = Date.now();
    while (expired.length < 3 && Date.now() - t0 < 3000) await sleep(20);
    assert.deepEqual(expired, [2, 1, 0]);
    for (const d of all) d.stop();
    await sleep(50);
    assert.deepEqual(expired, [2, 1, 0]);
  });
});
