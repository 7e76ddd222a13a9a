import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  maildropStore,
  openCallbackMaildrop,
} from "../../src/storage/callback_maildrop.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import type { Pop3dStorage } from "../../src/storage/types.ts";
import { Md5 } from "../../src/_util/md5.ts";
import { toHex } from "../../src/_util/hex.ts";

const te = new TextEncoder();

/** A storage over two messages that records every call. */
function recording(overrides: Partial<Pop3dStorage<string>> = {}) {
  const calls: string[] = [];
  const messages = ["Subject: one\r\n\r\nHi\r\n", "Subject: two\r\n\r\nYo\r\n"];
  const storage: Pop3dStorage<string> = {
    lock: (mbox) => (calls.push(`lock ${mbox}`), true),
    unlock: (mbox) => void calls.push(`unlock ${mbox}`),
    stat: (mbox) => (calls.push(`stat ${mbox}`), messages.length),
    size: (mbox, n) => {
      calls.push(n === undefined ? `size ${mbox}` : `size ${mbox} ${n}`);
      return n === undefined
        ? messages.reduce((sum, m) => sum + m.length, 0)
        : messages[n - 1].length;
    },
    get: (mbox, n) => (calls.push(`get ${mbox} ${n}`), messages[n - 1]),
    dele: (mbox, ids) => void calls.push(`dele ${mbox} ${ids.join(",")}`),
    ...overrides,
  };
  return { storage, calls, messages };
}

function context(signal = new AbortController().signal) {
  return { user: "alice", signal };
}

describe("openCallbackMaildrop", () => {
  it("openCallbackMaildrop gives null when lock returns false, and calls nothing else", async () => {
    const { storage, calls } = recording({ lock: () => false });
    assert.equal(await openCallbackMaildrop(storage, "alice", context()), null);
    assert.deepEqual(calls, []);
  });

  it("openCallbackMaildrop gives back a lock that resolves after the session was aborted, and calls nothing else", async () => {
    const aborter = new AbortController();
    let grant: (value: boolean) => void = () => {};
    const { storage, calls } = recording({
      lock: (mbox) => {
        calls.push(`lock ${mbox}`);
        return new Promise<boolean>((resolve) => grant = resolve);
      },
    });
    const opening = openCallbackMaildrop(
      storage,
      "alice",
      context(aborter.signal),
    );
    aborter.abort(new Error("Session ended: killed"));
    grant(true);
    assert.equal(await opening, null);
    assert.deepEqual(calls, ["lock alice", "unlock alice"]);
  });

  it("openCallbackMaildrop unlocks and then throws when the snapshot fails", async () => {
    const { storage, calls } = recording({
      stat: (mbox) => {
        calls.push(`stat ${mbox}`);
        throw new Error("stat broke");
      },
    });
    await assert.rejects(
      Promise.resolve(openCallbackMaildrop(storage, "alice", context())),
      /stat broke/,
    );
    assert.deepEqual(calls, ["lock alice", "stat alice", "unlock alice"]);
  });

  it("openCallbackMaildrop unlocks and throws a TypeError when stat returns a negative count", async () => {
    const { storage, calls } = recording({ stat: () => -1 });
    await assert.rejects(
      Promise.resolve(openCallbackMaildrop(storage, "alice", context())),
      TypeError,
    );
    assert.equal(calls.at(-1), "unlock alice");
  });

  it("CallbackMaildrop takes its snapshot from stat and size, and delete returns the ids", async () => {
    const { storage, calls, messages } = recording();
    const handle = await openCallbackMaildrop(storage, "alice", context());
    assert.ok(handle);
    assert.equal(handle.count, 2);
    assert.equal(handle.octets, messages[0].length + messages[1].length);
    assert.equal(await handle.size(2), messages[1].length);
    assert.deepEqual(await handle.delete([1, 2]), [1, 2]);
    await handle.close();
    assert.deepEqual(calls, [
      "lock alice",
      "stat alice",
      "size alice",
      "size alice 2",
      "dele alice 1,2",
      "unlock alice",
    ]);
  });

  it("CallbackMaildrop uses the storage's uidl when it has one", async () => {
    const { storage } = recording({ uidl: (_mbox, n) => `uid-${n}` });
    const handle = await openCallbackMaildrop(storage, "alice", context());
    assert.equal(await handle!.uid(2), "uid-2");
  });

  it("CallbackMaildrop falls back to the MD5 digest of the message bytes without uidl", async () => {
    const { storage, messages } = recording();
    const handle = await openCallbackMaildrop(storage, "alice", context());
    const expected = toHex(new Md5().update(te.encode(messages[1])).digest());
    assert.equal(await handle!.uid(2), expected);
    assert.match(expected, /^[0-9a-f]{32}$/);
    assert.notEqual(await handle!.uid(1), expected);
  });

  it("CallbackMaildrop digests a streamed message like the same bytes in memory", async () => {
    const bytes = te.encode("Subject: s\r\n\r\nstreamed\r\n");
    const { storage } = recording({
      stat: () => 1,
      size: () => bytes.length,
      get: () =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(bytes.subarray(0, 5));
            controller.enqueue(bytes.subarray(5));
            controller.close();
          },
        }),
    });
    const handle = await openCallbackMaildrop(storage, "alice", context());
    assert.equal(
      await handle!.uid(1),
      toHex(new Md5().update(bytes).digest()),
    );
  });
});

describe("maildropStore", () => {
  it("maildropStore returns a storage that opens handles itself as it is", () => {
    const store = { openMaildrop: () => null };
    assert.equal(maildropStore(store), store);
  });

  it("maildropStore adapts the seed's callbacks of a MemoryStorage", async () => {
    const memory = new MemoryStorage();
    memory.deliver("alice", "Subject: x\r\n\r\nbody\r\n");
    const handle = await maildropStore(memory).openMaildrop("alice", context());
    assert.ok(handle);
    assert.equal(handle.count, 1);
    // Locked: a second open is refused until the first closes.
    assert.equal(
      await maildropStore(memory).openMaildrop("alice", context()),
      null,
    );
    await handle.close();
    const again = await maildropStore(memory).openMaildrop("alice", context());
    assert.ok(again);
    await again.close();
  });
});
