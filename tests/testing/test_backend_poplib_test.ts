// End-to-end: a Pop3d on 127.0.0.1:0 over a TestBackend, driven by python3's
// poplib, for every fault a test can inject.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pop3d, type Pop3dOptions } from "../../mod.ts";
import { InjectedFaultError, TestBackend } from "../../testing.ts";
import {
  failure,
  Poplib,
  type PopStep,
  socketSkipReason,
  value,
} from "../_helpers/poplib.ts";

const skip = await socketSkipReason();
const py = skip ? undefined : new Poplib();
after(() => py?.close());
function poplib(port: number, steps: PopStep[]) {
  return py!.run(port, steps);
}
const LOGIN: PopStep[] = [["connect"], ["user", "alice"], ["pass_", "secret"]];

interface Running {
  port: number;
  errors: unknown[];
  server: Pop3d<string>;
}

async function withServer(
  backend: TestBackend,
  fn: (s: Running) => Promise<void>,
  options: Pop3dOptions<string> = {},
): Promise<void> {
  const errors: unknown[] = [];
  const server = new Pop3d<string>({
    port: 0,
    hostname: "127.0.0.1",
    auth: backend,
    storage: backend,
    authFailureDelay: 0,
    authPenalty: false,
    onError: (error) => errors.push(error),
    ...options,
  });
  await server.up();
  try {
    await fn({ port: server.cget("port") as number, errors, server });
  } finally {
    await server.destroy("kill");
  }
}

/** A message of `lines` 78-octet lines, one of which starts with a dot. */
function bigMessage(lines: number): string {
  const body: string[] = ["Subject: big", ""];
  for (let i = 0; i < lines; i++) {
    body.push((i === 3 ? "." : "") + `line ${i} `.padEnd(76, "x"));
  }
  return body.join("\r\n") + "\r\n";
}

/** The message as poplib returns it: lines without CRLF, dot-unstuffed. */
function asLines(message: string): string[] {
  return message.replace(/\r\n$/, "").split("\r\n");
}

/** Waits until the server has released the maildrop's lock. */
async function unlocked(backend: TestBackend, mbox: string): Promise<void> {
  for (let i = 0; i < 200 && backend.isLocked(mbox); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(backend.isLocked(mbox), false, "the lock is released");
}

describe("TestBackend with poplib", { skip }, () => {
  it("TestBackend shows what a client retrieved and deleted", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pop3d-"));
    try {
      const eml = join(dir, "note.eml");
      await writeFile(eml, "Subject: from a file\n\n.hidden dot\nbye\n");
      const backend = new TestBackend({ readFile: (p) => readFile(p) });
      backend.addUser("alice", "secret");
      backend.deliver("alice", "Subject: one\r\n\r\nFirst\r\n", { uid: "m1" });
      await backend.deliverFile("alice", eml, { uid: "m2" });
      backend.deliver("alice", "Subject: three\n\nThird\n", { uid: "m3" });
      await withServer(backend, async ({ port, errors }) => {
        const r = await poplib(port, [
          ...LOGIN,
          ["stat"],
          ["uidl"],
          ["retr", 2],
          ["top", 3, 0],
          ["dele", 1],
          ["quit"],
        ]);
        assert.equal(value(r[2]), "+OK alice has 3 messages (90 octets)");
        assert.deepEqual(value(r[3]), [3, 90]);
        assert.deepEqual((value(r[4]) as [string, string[]])[1], [
          "1 m1",
          "2 m2",
          "3 m3",
        ]);
        const [, lines, octets] = value(r[5]) as [string, string[], number];
        assert.deepEqual(lines, [
          "Subject: from a file",
          "",
          ".hidden dot",
          "bye",
        ]);
        // poplib counts the octets of each line plus CRLF, after unstuffing.
        assert.equal(octets, 42);
        assert.deepEqual((value(r[6]) as [string, string[]])[1], [
          "Subject: three",
          "",
        ]);
        value(r[7]);
        assert.match(value(r[8]) as string, /^\+OK/);
        assert.deepEqual(errors, []);
      });
      assert.deepEqual(
        backend.retrievals().map((x) => [x.uid, x.status]),
        [["m2", "complete"], ["m3", "cancelled"]],
      );
      assert.deepEqual(backend.retrieved("alice"), ["m2"]);
      assert.deepEqual(backend.deleted("alice"), ["m1"]);
      assert.deepEqual(backend.messages("alice").map((m) => m.uid), [
        "m2",
        "m3",
      ]);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it("TestBackend deletes nothing when the client leaves without QUIT", async () => {
    const backend = new TestBackend().addUser("alice", "secret");
    backend.deliver("alice", "Subject: one\r\n\r\nFirst\r\n", { uid: "m1" });
    await withServer(backend, async ({ port }) => {
      const r = await poplib(port, [...LOGIN, ["retr", 1], ["dele", 1]]);
      value(r[4]);
      await unlocked(backend, "alice");
    });
    assert.deepEqual(backend.retrieved("alice"), ["m1"]);
    assert.deepEqual(backend.deleted("alice"), []);
    assert.equal(backend.stat("alice"), 1);
  });

  it("TestBackend delays a reply by the injected delay", async () => {
    const backend = new TestBackend().addUser("alice", "secret");
    backend.deliver("alice", "Subject: slow\r\n\r\nSlow\r\n", { uid: "slow" });
    backend.deliver("alice", "Subject: fast\r\n\r\nFast\r\n", { uid: "fast" });
    const fault = backend.inject({ on: "get", uid: "slow", delay: 300 });
    await withServer(backend, async ({ port }) => {
      const r = await poplib(port, [...LOGIN, ["retr", 2], ["retr", 1]]);
      value(r[3]);
      value(r[4]);
      assert.ok(r[3].ms < 250, `fast RETR took ${r[3].ms} ms`);
      assert.ok(r[4].ms >= 290, `slow RETR took ${r[4].ms} ms`);
    });
    assert.equal(fault.hits, 1);
    assert.deepEqual(backend.retrieved("alice"), ["fast", "slow"]);
  });

  it("TestBackend delay beyond callbackTimeout gives the client -ERR [SYS/TEMP]", async () => {
    const backend = new TestBackend().addUser("alice", "secret");
    backend.deliver("alice", "Subject: one\r\n\r\nFirst\r\n", { uid: "m1" });
    backend.inject({ on: "get", delay: 5000, times: 1 });
    await withServer(backend, async ({ port }) => {
      const r = await poplib(port, [...LOGIN, ["retr", 1], ["noop"], [
        "retr",
        1,
      ]]);
      assert.match(failure(r[3]), /-ERR \[SYS\/TEMP\] Storage did not answer/);
      value(r[4]);
      value(r[5]);
      backend.clearFaults();
    }, { callbackTimeout: 100 });
  });

  it("TestBackend dropAfter closes the connection without the terminator", async () => {
    const backend = new TestBackend().addUser("alice", "secret");
    const message = "Subject: one\r\n\r\nFirst\r\n";
    backend.deliver("alice", message, { uid: "m1" });
    backend.inject({ on: "get", uid: "m1", dropAfter: 10, times: 2 });
    await withServer(backend, async ({ port, errors }) => {
      // poplib never takes the cut-off message for a whole one.
      const r = await poplib(port, [...LOGIN, ["retr", 1], ["noop"]]);
      assert.equal(failure(r[3]), "-ERR EOF");
      assert.ok("error" in r[4], "the connection is gone");
      // On the wire: at most the +OK line and the first 10 octets, then EOF.
      const raw = await poplib(port, [...LOGIN, ["raw", "RETR 1"]]);
      const got = value(raw[3]) as { length: number; tail: string };
      assert.ok(
        got.length <= "+OK 23 octets\r\n".length + 10,
        String(got.length),
      );
      assert.ok(!got.tail.endsWith("\r\n.\r\n"));
      await unlocked(backend, "alice");
      assert.equal(errors.length, 2);
      assert.ok(errors.every((e) => e instanceof InjectedFaultError));
      // The fault hit twice; the third RETR gets the whole message.
      const ok = await poplib(port, [...LOGIN, ["retr", 1], ["quit"]]);
      assert.deepEqual(
        (value(ok[3]) as [string, string[]])[1],
        asLines(message),
      );
    });
    assert.deepEqual(
      backend.retrievals().map((x) => [x.status, x.octets]),
      [["dropped", 10], ["dropped", 10], ["complete", 23]],
    );
    assert.equal(backend.stat("alice"), 1, "nothing was deleted");
  });

  it("TestBackend dropAfter on a large message cuts it off mid-transfer", async () => {
    const backend = new TestBackend().addUser("alice", "secret");
    const message = bigMessage(3000); // 234 KB
    backend.deliver("alice", message, { uid: "big" });
    backend.inject({ on: "get", uid: "big", dropAfter: 150_000, times: 1 });
    await withServer(backend, async ({ port }) => {
      const raw = await poplib(port, [...LOGIN, ["raw", "RETR 1"]]);
      const got = value(raw[3]) as {
        length: number;
        head: string;
        tail: string;
      };
      assert.match(got.head, new RegExp(`^\\+OK ${message.length} octets\r\n`));
      assert.ok(got.length > 1000, `got ${got.length} octets`);
      assert.ok(got.length < message.length, `got ${got.length} octets`);
      assert.ok(!got.tail.endsWith("\r\n.\r\n"));
      const ok = await poplib(port, [...LOGIN, ["retr", 1]]);
      assert.deepEqual(
        (value(ok[3]) as [string, string[]])[1],
        asLines(message),
      );
    });
    assert.deepEqual(
      backend.retrievals().map((x) => [x.status, x.octets]),
      [["dropped", 150_000], ["complete", message.length]],
    );
  });

  it(
    "TestBackend dropAfter delivers exactly N octets before the connection closes",
    async () => {
      const backend = new TestBackend().addUser("alice", "secret");
      const message = bigMessage(100);
      backend.deliver("alice", message, { uid: "m1" });
      backend.inject({ on: "get", dropAfter: 1000 });
      await withServer(backend, async ({ port }) => {
        const raw = await poplib(port, [...LOGIN, ["raw", "RETR 1"]]);
        const got = value(raw[3]) as { length: number };
        // +OK line, 1000 octets, one dot-stuffed line start.
        assert.equal(
          got.length,
          `+OK ${message.length} octets\r\n`.length + 1001,
        );
      });
    },
  );

  it("TestBackend error faults answer -ERR with the response code, and the session goes on", async () => {
    const backend = new TestBackend().addUser("alice", "secret");
    backend.addUser("bob", "hunter2");
    backend.deliver("alice", "Subject: a\r\n\r\nA\r\n", { uid: "a1" });
    backend.deliver("bob", "Subject: b\r\n\r\nB\r\n", { uid: "b1" });
    backend.inject({
      on: "get",
      user: "alice",
      error: "SYS/TEMP",
      message: "Try again later",
      times: 1,
    });
    await withServer(backend, async ({ port, errors }) => {
      const r = await poplib(port, [...LOGIN, ["retr", 1], ["noop"], [
        "retr",
        1,
      ], ["quit"]]);
      assert.match(failure(r[3]), /-ERR \[SYS\/TEMP\] Try again later/);
      value(r[4]);
      value(r[5]);
      const bob = await poplib(port, [["connect"], ["user", "bob"], [
        "pass_",
        "hunter2",
      ], ["retr", 1]]);
      value(bob[3]);
      // A Pop3Error is a reply, not an error for onError.
      assert.deepEqual(errors, []);
    });
    assert.deepEqual(backend.retrieved("alice"), ["a1"]);
    assert.deepEqual(backend.retrieved("bob"), ["b1"]);
  });

  it("TestBackend error faults at login fail PASS and release the lock", async () => {
    const backend = new TestBackend().addUser("alice", "secret");
    backend.deliver("alice", "Subject: a\r\n\r\nA\r\n");
    backend.inject({ on: "stat", user: "alice", error: "SYS/TEMP", times: 1 });
    backend.inject({
      on: "exists",
      user: "alice",
      error: "SYS/PERM",
      times: 1,
    });
    await withServer(backend, async ({ port }) => {
      const r = await poplib(port, [
        ...LOGIN,
        ["user", "alice"],
        ["pass_", "secret"],
        ["user", "alice"],
        ["pass_", "secret"],
        ["stat"],
      ]);
      assert.match(
        failure(r[2]),
        /-ERR \[SYS\/PERM\] Injected fault in "exists"/,
      );
      assert.match(
        failure(r[4]),
        /-ERR \[SYS\/TEMP\] Injected fault in "stat"/,
      );
      assert.match(value(r[6]) as string, /^\+OK alice has 1 message/);
      assert.deepEqual(value(r[7]), [1, 17]);
    });
    await unlocked(backend, "alice");
  });

  it("TestBackend refused or held locks answer -ERR [IN-USE]", async () => {
    const backend = new TestBackend().addUser("alice", "secret");
    const fault = backend.inject({ on: "lock", user: "alice", refuse: true });
    await withServer(backend, async ({ port }) => {
      let r = await poplib(port, LOGIN);
      assert.match(failure(r[2]), /-ERR \[IN-USE\]/);
      fault.remove();
      // A lock held by someone else (here: the test) does the same.
      assert.equal(backend.lock("alice"), true);
      r = await poplib(port, LOGIN);
      assert.match(failure(r[2]), /-ERR \[IN-USE\]/);
      backend.unlock("alice");
      r = await poplib(port, [...LOGIN, ["quit"]]);
      value(r[2]);
    });
  });

  it("TestBackend can answer a login with -ERR [LOGIN-DELAY]", async () => {
    const backend = new TestBackend().addUser("alice", "secret");
    backend.inject({
      on: "lock",
      user: "alice",
      error: "LOGIN-DELAY",
      message: "Wait 15 minutes between logins",
    });
    await withServer(backend, async ({ port }) => {
      const r = await poplib(port, LOGIN);
      assert.match(
        failure(r[2]),
        /-ERR \[LOGIN-DELAY\] Wait 15 minutes between logins/,
      );
    });
    assert.equal(backend.isLocked("alice"), false);
  });

  it("TestBackend dele faults keep every message and tell the client at QUIT", async () => {
    const backend = new TestBackend().addUser("alice", "secret");
    backend.deliver("alice", "Subject: a\r\n\r\nA\r\n", { uid: "a1" });
    backend.inject({ on: "dele", error: "SYS/TEMP" });
    await withServer(backend, async ({ port }) => {
      const r = await poplib(port, [...LOGIN, ["dele", 1], ["quit"]]);
      value(r[3]);
      assert.match(
        failure(r[4]),
        /-ERR \[SYS\/TEMP\] Some deleted messages were not removed/,
      );
      await unlocked(backend, "alice");
    });
    assert.deepEqual(backend.deleted("alice"), []);
    assert.equal(backend.stat("alice"), 1);
  });

  it(
    "Pop3d announces EXPIRE and LOGIN-DELAY in CAPA",
    async () => {
      const backend = new TestBackend().addUser("alice", "secret");
      const options = { expire: 31, loginDelay: 900 } as Pop3dOptions<string>;
      await withServer(backend, async ({ port }) => {
        const r = await poplib(port, [["connect"], ["capa"]]);
        const capa = value(r[1]) as Record<string, string[]>;
        assert.deepEqual(capa["EXPIRE"], ["31"]);
        assert.deepEqual(capa["LOGIN-DELAY"], ["900"]);
      }, options);
    },
  );
});
