import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HashGate } from "../../src/auth/hash_gate.ts";

describe("HashGate", () => {
  it("HashGate runs at most max tasks at once and starts the rest in order", async () => {
    const gate = new HashGate(2);
    const started: number[] = [];
    const release: (() => void)[] = [];
    const done = Array.from({ length: 5 }, (_, i) =>
      gate.run(() => {
        started.push(i);
        return new Promise<number>((resolve) => release.push(() => resolve(i)));
      }));
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(started, [0, 1]);
    assert.equal(gate.running, 2);
    assert.equal(gate.waiting, 3);
    release[0]();
    await done[0];
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(started, [0, 1, 2]);
    for (let i = 1; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 0));
      release[i]();
    }
    assert.deepEqual(await Promise.all(done), [0, 1, 2, 3, 4]);
    assert.equal(gate.running, 0);
    assert.equal(gate.waiting, 0);
  });

  it("HashGate frees the slot when a task throws", async () => {
    const gate = new HashGate(1);
    await assert.rejects(
      gate.run(() => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(await gate.run(() => Promise.resolve(7)), 7);
    assert.throws(() => new HashGate(0), RangeError);
  });
});
