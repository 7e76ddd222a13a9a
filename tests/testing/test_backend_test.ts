import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Pop3Error } from "../../src/errors.ts";
import { InjectedFaultError, TestBackend } from "../../testing.ts";
import type { MessageSource } from "../../src/storage/types.ts";

const decoder = new TextDecoder();

/** Reads a whole MessageSource as the session does: chunk by chunk to the end. */
async function readAll(source: MessageSource): Promise<Uint8Array> {
  assert.ok(source instanceof ReadableStream, "get returns a stream");
  const chunks: Uint8Array[] = [];
  const reader = source.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function fixture(): TestBackend {
  const backend = new TestBackend().addUser("alice", "secret");
  backend.deliver("alice", "Subject: one\n\nFirst\n", { uid: "one" });
  backend.deliver("alice", "Subject: two\r\n\r\nSecond\r\n", { uid: "two" });
  return backend;
}

describe("TestBackend set-up", () => {
  it("TestBackend answers exists and lookup like MemoryAuth", () => {
    const backend = new TestBackend().addUser("alice", "secret");
    backend.addUser("bob", "pw", "shared");
    assert.equal(backend.exists("alice"), true);
    assert.equal(backend.exists("carol"), false);
    assert.deepEqual(backend.lookup("alice"), ["secret", "alice"]);
    assert.deepEqual(backend.lookup("bob"), ["pw", "shared"]);
    assert.throws(() => backend.lookup("carol"), RangeError);
    assert.deepEqual(backend.users(), ["alice", "bob"]);
    assert.equal(backend.removeUser("bob"), true);
    assert.deepEqual(backend.users(), ["alice"]);
  });

  it("TestBackend delivers strings and bytes with CRLF line ends and exact sizes", () => {
    const backend = fixture();
    const bytes = new TextEncoder().encode("Subject: three\n\n\u00e9\n");
    backend.deliver("alice", bytes, { uid: "three" });
    bytes[0] = 0; // the caller's buffer is copied, not kept
    assert.equal(backend.stat("alice"), 3);
    const stored = backend.messages("alice");
    assert.deepEqual(stored.map((m) => m.uid), ["one", "two", "three"]);
    assert.equal(
      decoder.decode(stored[0].bytes),
      "Subject: one\r\n\r\nFirst\r\n",
    );
    assert.equal(
      decoder.decode(stored[2].bytes),
      "Subject: three\r\n\r\n\u00e9\r\n",
    );
    assert.equal(backend.size("alice", 1), 23);
    assert.equal(backend.size("alice", 3), stored[2].bytes.length);
    assert.equal(backend.size("alice"), 23 + 24 + stored[2].bytes.length);
    assert.equal(backend.uidl("alice", 2), "two");
    assert.throws(
      () => backend.deliver("alice", "x", { uid: "one" }),
      TypeError,
    );
    assert.throws(
      () => backend.deliver("alice", 42 as unknown as string),
      TypeError,
    );
  });

  it("TestBackend.deliverFile reads through the injected reader", async () => {
    const files = new Map([["mail/a.eml", "Subject: file\n\nFrom a file\n"]]);
    const read: string[] = [];
    const backend = new TestBackend({
      readFile: (path) => {
        read.push(path);
        const text = files.get(path);
        if (text === undefined) throw new Error(`No such file: ${path}`);
        return Promise.resolve(new TextEncoder().encode(text));
      },
    });
    const uid = await backend.deliverFile("alice", "mail/a.eml", { uid: "f" });
    assert.equal(uid, "f");
    assert.deepEqual(read, ["mail/a.eml"]);
    assert.equal(
      decoder.decode(backend.messages("alice")[0].bytes),
      "Subject: file\r\n\r\nFrom a file\r\n",
    );
    await assert.rejects(
      backend.deliverFile("alice", "missing.eml"),
      /No such file/,
    );
    await assert.rejects(
      new TestBackend().deliverFile("alice", "mail/a.eml"),
      TypeError,
    );
    assert.throws(
      () => new TestBackend({ readFile: "x" as unknown as () => string }),
      TypeError,
    );
  });

  it("TestBackend.lock refuses a second holder until unlock", () => {
    const backend = fixture();
    assert.equal(backend.lock("alice"), true);
    assert.equal(backend.isLocked("alice"), true);
    assert.equal(backend.lock("alice"), false);
    backend.unlock("alice");
    assert.equal(backend.isLocked("alice"), false);
    assert.equal(backend.lock("alice"), true);
  });
});

describe("TestBackend inspection", () => {
  it("TestBackend records a stream read to its end as complete", async () => {
    const backend = fixture();
    const bytes = await readAll(await backend.get("alice", 2));
    assert.equal(decoder.decode(bytes), "Subject: two\r\n\r\nSecond\r\n");
    assert.deepEqual(backend.retrievals(), [
      { mbox: "alice", msgId: 2, uid: "two", octets: 24, status: "complete" },
    ]);
    assert.deepEqual(backend.retrieved("alice"), ["two"]);
  });

  it("TestBackend records a cancelled stream (as TOP does) as cancelled, not retrieved", async () => {
    const backend = fixture();
    const stream = (await backend.get("alice", 1)) as ReadableStream<
      Uint8Array
    >;
    const reader = stream.getReader();
    const first = await reader.read();
    assert.equal(first.done, false);
    assert.equal(backend.retrievals()[0].status, "open");
    await reader.cancel();
    assert.equal(backend.retrievals()[0].status, "cancelled");
    assert.deepEqual(backend.retrieved("alice"), []);
  });

  it("TestBackend streams copies, so a consumer cannot change the stored message", async () => {
    const backend = fixture();
    const reader =
      ((await backend.get("alice", 1)) as ReadableStream<Uint8Array>)
        .getReader();
    const { value } = await reader.read();
    value!.fill(0x78);
    assert.equal(
      decoder.decode(backend.messages("alice")[0].bytes),
      "Subject: one\r\n\r\nFirst\r\n",
    );
  });

  it("TestBackend streams large messages in chunks and counts octets", async () => {
    const backend = new TestBackend();
    const body = "Subject: big\r\n\r\n" + "0123456789abcde\r\n".repeat(10_000);
    backend.deliver("alice", body, { uid: "big" });
    const stream = (await backend.get("alice", 1)) as ReadableStream<
      Uint8Array
    >;
    const reader = stream.getReader();
    let chunks = 0;
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      total += value.length;
    }
    assert.equal(total, body.length);
    assert.ok(chunks > 1, `expected several chunks, got ${chunks}`);
    assert.equal(backend.retrievals()[0].octets, body.length);
  });

  it("TestBackend records deletions by uid and keeps message numbers of the call", () => {
    const backend = fixture();
    backend.deliver("alice", "Subject: three\r\n\r\n3\r\n", { uid: "three" });
    backend.dele("alice", [1, 3]);
    assert.deepEqual(backend.deleted("alice"), ["one", "three"]);
    assert.deepEqual(
      backend.deletions("alice").map((d) => [d.msgId, d.uid]),
      [[1, "one"], [3, "three"]],
    );
    assert.equal(
      decoder.decode(backend.deletions()[0].bytes),
      "Subject: one\r\n\r\nFirst\r\n",
    );
    assert.deepEqual(backend.messages("alice").map((m) => m.uid), ["two"]);
    assert.deepEqual(backend.deleted("bob"), []);
  });

  it("TestBackend logs every callback call in order", async () => {
    const backend = fixture();
    backend.exists("alice");
    backend.lookup("alice");
    backend.lock("alice");
    backend.stat("alice");
    backend.size("alice");
    backend.size("alice", 2);
    backend.uidl("alice", 1);
    await readAll(await backend.get("alice", 1));
    backend.dele("alice", [1]);
    backend.unlock("alice");
    assert.deepEqual(
      backend.calls().map((c) => [c.method, c.name, c.msgIds, c.faulted]),
      [
        ["exists", "alice", [], false],
        ["lookup", "alice", [], false],
        ["lock", "alice", [], false],
        ["stat", "alice", [], false],
        ["size", "alice", [], false],
        ["size", "alice", [2], false],
        ["uidl", "alice", [1], false],
        ["get", "alice", [1], false],
        ["dele", "alice", [1], false],
        ["unlock", "alice", [], false],
      ],
    );
  });

  it("TestBackend.reset forgets users, mail, records, faults and locks", async () => {
    const backend = fixture();
    backend.lock("alice");
    await readAll(await backend.get("alice", 1));
    backend.dele("alice", [2]);
    const fault = backend.inject({ on: "stat", error: "SYS/TEMP" });
    backend.reset();
    assert.deepEqual(backend.users(), []);
    assert.equal(backend.stat("alice"), 0);
    assert.equal(backend.isLocked("alice"), false);
    assert.deepEqual(backend.retrievals(), []);
    assert.deepEqual(backend.deletions(), []);
    assert.equal(fault.active, false);
    assert.deepEqual(backend.calls().map((c) => c.method), ["stat"]);
  });
});

describe("TestBackend faults", () => {
  it("TestBackend throws Pop3Error with the response code of an error fault", () => {
    const backend = fixture();
    backend.inject({ on: "stat", user: "alice", error: "SYS/TEMP" });
    assert.throws(
      () => backend.stat("alice"),
      (e: unknown) =>
        e instanceof Pop3Error && e.code === "SYS/TEMP" &&
        e.message === 'Injected fault in "stat"',
    );
    assert.equal(backend.stat("bob"), 0, "other users are not hit");
    backend.inject({
      on: "lock",
      error: "LOGIN-DELAY",
      message: "Wait 5 minutes between logins",
    });
    assert.throws(
      () => backend.lock("alice"),
      (e: unknown) =>
        e instanceof Pop3Error && e.code === "LOGIN-DELAY" &&
        e.message === "Wait 5 minutes between logins",
    );
    assert.equal(backend.isLocked("alice"), false);
  });

  it("TestBackend throws a given Error as it is", () => {
    const backend = fixture();
    const boom = new Error("disk on fire");
    backend.inject({ on: ["size", "uidl"], msgId: 2, error: boom });
    assert.throws(() => backend.size("alice", 2), (e) => e === boom);
    assert.throws(() => backend.uidl("alice", 2), (e) => e === boom);
    assert.equal(backend.uidl("alice", 1), "one");
    assert.equal(backend.size("alice"), 47, "the maildrop size is not hit");
  });

  it("TestBackend refuses the lock with refuse", () => {
    const backend = fixture();
    const fault = backend.inject({ on: "lock", user: "alice", refuse: true });
    assert.equal(backend.lock("alice"), false);
    assert.equal(backend.isLocked("alice"), false);
    assert.equal(fault.hits, 1);
    fault.remove();
    assert.equal(fault.active, false);
    assert.equal(backend.lock("alice"), true);
  });

  it("TestBackend matches a user's own maildrop name for storage faults", () => {
    const backend = new TestBackend().addUser("bob", "pw", "box-of-bob");
    backend.inject({ on: ["exists", "stat"], user: "bob", error: "SYS/PERM" });
    assert.throws(() => backend.exists("bob"), Pop3Error);
    assert.throws(() => backend.stat("box-of-bob"), Pop3Error);
    assert.equal(backend.stat("bob"), 0);
  });

  it("TestBackend hits only `times` calls", () => {
    const backend = fixture();
    const fault = backend.inject({ on: "stat", times: 2, error: "SYS/TEMP" });
    assert.throws(() => backend.stat("alice"));
    assert.equal(fault.active, true);
    assert.throws(() => backend.stat("alice"));
    assert.equal(fault.active, false);
    assert.equal(backend.stat("alice"), 2);
    assert.equal(fault.hits, 2);
    assert.deepEqual(
      backend.calls().map((c) => c.faulted),
      [true, true, false],
    );
  });

  it("TestBackend matches message faults by uid after renumbering", async () => {
    const backend = fixture();
    backend.deliver("alice", "Subject: three\r\n\r\n3\r\n", { uid: "three" });
    backend.inject({ on: "get", uid: "three", error: "SYS/TEMP" });
    assert.throws(() => backend.get("alice", 3), Pop3Error);
    backend.dele("alice", [1]);
    assert.throws(() => backend.get("alice", 2), Pop3Error);
    await readAll(await backend.get("alice", 1));
  });

  it("TestBackend delays an answer by `delay` milliseconds", async () => {
    const backend = fixture();
    backend.inject({ on: "stat", delay: 80 });
    const started = performance.now();
    const result = backend.stat("alice");
    assert.ok(result instanceof Promise);
    assert.equal(await result, 2);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 75, `answered after ${elapsed} ms`);
  });

  it("TestBackend adds up delays and fails after the delay", async () => {
    const backend = fixture();
    backend.inject({ on: "get", delay: 30 });
    backend.inject({ on: "get", delay: 30, error: "SYS/TEMP" });
    const started = performance.now();
    await assert.rejects(
      Promise.resolve(backend.get("alice", 1)),
      (e: unknown) => e instanceof Pop3Error && e.code === "SYS/TEMP",
    );
    assert.ok(performance.now() - started >= 55);
    assert.deepEqual(backend.retrievals(), [], "a failed get opens nothing");
  });

  it("TestBackend.clearFaults ends pending delays at once", async () => {
    const backend = fixture();
    backend.inject({ on: "stat", delay: 60_000 });
    const started = performance.now();
    const pending = backend.stat("alice");
    backend.clearFaults();
    assert.equal(await pending, 2);
    assert.ok(performance.now() - started < 1000);
  });

  it("TestBackend cuts a stream off after dropAfter octets with InjectedFaultError", async () => {
    const backend = new TestBackend();
    const body = "Subject: big\r\n\r\n" + "x".repeat(100_000) + "\r\n";
    backend.deliver("alice", body, { uid: "big" });
    backend.inject({ on: "get", uid: "big", dropAfter: 70_000, times: 1 });
    const reader =
      ((await backend.get("alice", 1)) as ReadableStream<Uint8Array>)
        .getReader();
    let got = 0;
    const error = await (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return undefined;
          got += value.length;
        }
      } catch (e) {
        return e;
      }
    })();
    assert.ok(error instanceof InjectedFaultError, String(error));
    assert.equal(got, 70_000);
    assert.deepEqual(backend.retrievals()[0], {
      mbox: "alice",
      msgId: 1,
      uid: "big",
      octets: 70_000,
      status: "dropped",
    });
    // The fault hit once; the stored message is whole.
    assert.equal(
      decoder.decode(await readAll(await backend.get("alice", 1))),
      body,
    );
    assert.equal(backend.retrievals()[1].status, "complete");
  });

  it("TestBackend drops after the last octet when dropAfter exceeds the message", async () => {
    const backend = fixture();
    backend.inject({ on: "get", dropAfter: 1_000_000 });
    await assert.rejects(
      readAll(await backend.get("alice", 1)),
      InjectedFaultError,
    );
    assert.equal(backend.retrievals()[0].octets, 23);
    assert.equal(backend.retrievals()[0].status, "dropped");
  });

  it("TestBackend fails a dele fault without deleting anything", () => {
    const backend = fixture();
    backend.inject({ on: "dele", uid: "two", error: "SYS/TEMP" });
    assert.throws(() => backend.dele("alice", [1, 2]), Pop3Error);
    assert.equal(backend.stat("alice"), 2);
    assert.deepEqual(backend.deletions(), []);
  });

  it("TestBackend.inject rejects faults it cannot apply", () => {
    const backend = new TestBackend();
    const bad: [unknown, ErrorConstructor][] = [
      [{ on: "fetch", delay: 1 }, TypeError],
      [{ on: [], delay: 1 }, TypeError],
      [{ on: "stat" }, TypeError],
      [{ on: "get", refuse: true }, TypeError],
      [{ on: ["lock", "stat"], refuse: true }, TypeError],
      [{ on: "stat", dropAfter: 3 }, TypeError],
      [{ on: "get", dropAfter: -1 }, RangeError],
      [{ on: "get", dropAfter: 1.5 }, TypeError],
      [{ on: "stat", delay: -5 }, RangeError],
      [{ on: "stat", error: "SYS/TMP" }, TypeError],
      [{ on: "lock", error: "SYS/TEMP", refuse: true }, TypeError],
      [{ on: "stat", uid: "one", delay: 1 }, TypeError],
      [{ on: "get", error: "AUTH", message: "a\r\nb" }, TypeError],
      [{ on: "get", delay: 1, times: -1 }, RangeError],
      [null, TypeError],
    ];
    for (const [fault, type] of bad) {
      assert.throws(
        () => backend.inject(fault as never),
        type,
        JSON.stringify(fault),
      );
    }
  });
});
