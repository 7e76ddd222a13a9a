import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryStorage } from "../../mod.ts";

const signal = new AbortController().signal;
const context = { user: "alice", signal };
const text = (bytes: unknown) => new TextDecoder().decode(bytes as Uint8Array);

describe("MemoryStorage.openMaildrop", () => {
  it("MemoryStorage.openMaildrop takes a snapshot that mail delivered later does not change", () => {
    const storage = new MemoryStorage();
    storage.deliver("alice", "one\n", { uid: "u1" });
    const handle = storage.openMaildrop("alice", context)!;
    storage.deliver("alice", "two\n", { uid: "u2" });
    assert.equal(handle.count, 1);
    assert.equal(handle.octets, 5);
    assert.equal(handle.size(1), 5);
    assert.equal(handle.uid(1), "u1");
    assert.equal(text(handle.get(1)), "one\r\n");
    assert.throws(() => handle.size(2), RangeError);
    handle.close();
    assert.equal(storage.openMaildrop("alice", context)?.count, 2);
  });

  it("MemoryStorage.openMaildrop shares its lock with the by-mbox lock, and close releases it once", () => {
    const storage = new MemoryStorage();
    const handle = storage.openMaildrop("alice", context)!;
    assert.equal(storage.isLocked("alice"), true);
    assert.equal(storage.lock("alice"), false);
    assert.equal(storage.openMaildrop("alice", context), null);
    handle.close();
    assert.equal(storage.lock("alice"), true);
    handle.close(); // a second close must not release another holder's lock
    assert.equal(storage.isLocked("alice"), true);
    storage.unlock("alice");
  });

  it("MemoryStorage handle delete removes exactly the snapshot's messages, not mail delivered meanwhile", () => {
    const storage = new MemoryStorage();
    for (const uid of ["a", "b", "c"]) storage.deliver("alice", uid, { uid });
    const handle = storage.openMaildrop("alice", context)!;
    storage.deliver("alice", "d", { uid: "d" });
    assert.deepEqual(handle.delete([1, 3]), [1, 3]);
    handle.close();
    assert.deepEqual(storage.messages("alice").map((m) => m.uid), ["b", "d"]);
  });
});
