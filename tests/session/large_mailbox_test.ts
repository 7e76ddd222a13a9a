import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startFixture } from "../_helpers/fixture.ts";
import type { MessageSource, Pop3dStorage } from "../../src/storage/types.ts";

const COUNT = 100_000;

/** `COUNT` messages computed on demand; counts every call by name. */
class CountingStorage implements Pop3dStorage<string> {
  readonly calls: Record<string, number> = {};
  async = false;

  #count<T>(name: string, value: T): T | Promise<T> {
    this.calls[name] = (this.calls[name] ?? 0) + 1;
    return this.async ? Promise.resolve(value) : value;
  }

  lock(): boolean | Promise<boolean> {
    return this.#count("lock", true);
  }
  unlock(): void {}
  stat(): number | Promise<number> {
    return this.#count("stat", COUNT);
  }
  size(_mbox: string, msgId?: number): number | Promise<number> {
    if (msgId === undefined) return this.#count("total", 20 * COUNT);
    return this.#count("size", 20);
  }
  get(_mbox: string, msgId: number): MessageSource | Promise<MessageSource> {
    return this.#count("get", `message ${String(msgId).padStart(8)}\r\n`);
  }
  uidl(_mbox: string, msgId: number): string | Promise<string> {
    return this.#count("uidl", `u${msgId}`);
  }
  dele(): void {}
}

async function largeMailbox(async: boolean): Promise<void> {
  const storage = new CountingStorage();
  storage.async = async;
  const fx = await startFixture({ storage });
  try {
    const client = await fx.alice();
    assert.deepEqual({ ...storage.calls }, { lock: 1, stat: 1, total: 1 });

    assert.equal(await client.cmd("STAT"), `+OK ${COUNT} ${20 * COUNT}`);
    assert.deepEqual({ ...storage.calls }, { lock: 1, stat: 1, total: 1 });

    const list = await client.multi("LIST", 30_000);
    assert.equal(list.lines.length, COUNT);
    assert.equal(list.lines[0], "1 20");
    assert.equal(list.lines[COUNT - 1], `${COUNT} 20`);
    assert.equal(storage.calls.size, COUNT);
    assert.equal((await client.multi("LIST", 30_000)).lines.length, COUNT);
    assert.equal(storage.calls.size, COUNT, "sizes are asked once");

    const uidl = await client.multi("UIDL", 30_000);
    assert.equal(uidl.lines.length, COUNT);
    assert.equal(uidl.lines[COUNT - 1], `${COUNT} u${COUNT}`);
    assert.equal(storage.calls.uidl, COUNT);
    await client.multi("UIDL", 30_000);
    assert.equal(storage.calls.uidl, COUNT, "ids are asked once");

    assert.equal(await client.cmd("DELE 50000"), "+OK Message 50000 deleted");
    assert.equal(
      await client.cmd("STAT"),
      `+OK ${COUNT - 1} ${20 * COUNT - 20}`,
    );
    const after = await client.multi("LIST", 30_000);
    assert.equal(after.lines.length, COUNT - 1);
    assert.ok(!after.lines.includes("50000 20"));
    assert.equal(storage.calls.size, COUNT);
    assert.equal(await client.cmd("QUIT"), "+OK Bye");
  } finally {
    await fx.close();
  }
}

describe("Pop3Session on a mailbox of 100,000 messages", () => {
  it("Pop3Session answers STAT without storage calls and LIST/UIDL with one call per message (sync storage)", async () => {
    await largeMailbox(false);
  });

  it("Pop3Session answers STAT without storage calls and LIST/UIDL with one call per message (async storage)", async () => {
    await largeMailbox(true);
  });
});
