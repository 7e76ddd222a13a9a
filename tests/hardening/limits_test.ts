import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Pop3d } from "../../src/server/pop3d.ts";
import {
  delay,
  fixture,
  LineClient,
  MemoryListener,
  PASSWORD,
  startSession,
  within,
} from "../_helpers/hardening_pair.ts";

async function greeted(client: LineClient): Promise<void> {
  const greeting = await client.line();
  assert.match(greeting ?? "", /^\+OK /);
}

describe("Pop3Session line length limit", () => {
  it("Pop3Session accepts a 255-octet command line and refuses a 256-octet one", async () => {
    const { client, done } = startSession({});
    await greeted(client);
    // "USER " + name + CRLF: 255 octets in all.
    assert.equal(await client.cmd("USER " + "a".repeat(248)), "+OK");
    assert.equal(
      await client.cmd("USER " + "a".repeat(249)),
      "-ERR Command line too long",
    );
    // A bare LF line end counts as CRLF.
    await client.send("USER " + "a".repeat(249) + "\n");
    assert.equal(await client.line(), "-ERR Command line too long");
    assert.equal(await client.cmd("QUIT"), "+OK Bye");
    await done;
  });

  it("Pop3Session lets AUTH lines exceed 255 octets up to maxAuthLineLength", async () => {
    const { client, done } = startSession({ maxAuthLineLength: 4096 });
    await greeted(client);
    const long = await client.cmd("AUTH PLAIN " + "A".repeat(2000));
    assert.match(long ?? "", /^-ERR|^\+/);
    assert.doesNotMatch(long ?? "", /too long/);
    // Not an AUTH line: the 255 limit applies even though the framer
    // buffers up to maxAuthLineLength.
    assert.equal(
      await client.cmd("CAPA " + "A".repeat(2000)),
      "-ERR Command line too long",
    );
    assert.equal(
      await client.cmd("AUTH PLAIN " + "A".repeat(4096)),
      "-ERR Command line too long",
    );
    assert.equal(await client.cmd("QUIT"), "+OK Bye");
    await done;
  });

  it("Pop3Session keeps its buffer bounded when a client sends 100 MB without LF", async () => {
    const { client, done } = startSession({});
    await greeted(client);
    const chunk = new Uint8Array(64 * 1024).fill(0x41);
    // Earlier tests in this process may have left a large heap, and Bun
    // paces its collector by the heap's size: start from a collected one.
    (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun?.gc(true);
    const before = process.memoryUsage().rss;
    let peak = before;
    for (let sent = 0; sent < 100 * 1024 * 1024; sent += chunk.length) {
      assert.equal(await client.send(chunk), true);
      if ((sent & 0xfffff) === 0) {
        peak = Math.max(peak, process.memoryUsage().rss);
      }
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.equal(await client.cmd(""), "-ERR Command line too long");
    assert.equal(await client.cmd("CAPA"), "+OK Capability list follows");
    await client.block();
    assert.equal(await client.cmd("QUIT"), "+OK Bye");
    await done;
    // Keeping the line would cost at least 100 MB.
    assert.ok(
      peak - before < 48 * 1024 * 1024,
      `RSS grew by ${((peak - before) / 1048576).toFixed(1)} MB`,
    );
  });
});

describe("Pop3Session bad-command limit", () => {
  it("Pop3Session disconnects after maxBadCommands bad commands of any kind", async () => {
    const { client, done } = startSession({ maxBadCommands: 4 });
    await greeted(client);
    assert.equal(await client.cmd("XYZZY"), "-ERR Unknown command");
    assert.equal(
      await client.cmd("NOOP\0"),
      "-ERR Invalid characters in command line",
    );
    assert.equal(await client.cmd("CAPA"), "+OK Capability list follows");
    await client.block();
    assert.match(await client.cmd("STAT") ?? "", /^-ERR STAT is not valid/);
    assert.equal(
      await client.cmd("USER " + "x".repeat(300)),
      "-ERR Command line too long",
    );
    assert.equal(
      await client.line(),
      "-ERR Too many bad commands, closing connection",
    );
    assert.equal(await client.line(), null);
    await within(1000, done, "session end");
  });

  it("Pop3Session handles a pipelined flood of bad commands and stops at the limit", async () => {
    const { client, done } = startSession({ maxBadCommands: 20 });
    await greeted(client);
    await client.send("BOGUS\r\n".repeat(10_000));
    await within(2000, done, "session end");
    const rest = await client.rest();
    const lines = rest.split("\r\n").filter((l) => l !== "");
    assert.equal(lines.length, 21);
    assert.equal(
      lines.at(-1),
      "-ERR Too many bad commands, closing connection",
    );
  });
});

describe("Pop3Session failed-login limit and delay", () => {
  it("Pop3Session disconnects after maxAuthFailures failed logins", async () => {
    const f = fixture();
    const { client, done } = startSession({
      auth: f.auth,
      storage: f.storage,
      maxAuthFailures: 3,
    });
    await greeted(client);
    for (let i = 0; i < 3; i++) {
      assert.equal(await client.cmd("USER alice"), "+OK");
      assert.equal(
        await client.cmd("PASS wrong" + i),
        "-ERR [AUTH] Authentication failed",
      );
    }
    assert.equal(
      await client.line(),
      "-ERR [AUTH] Too many failed logins, closing connection",
    );
    assert.equal(await client.line(), null);
    await done;
    assert.equal(f.calls.lock ?? 0, 0);
  });

  it("Pop3Session delays a failed login without blocking other sessions", async () => {
    const f = fixture();
    const options = {
      auth: f.auth,
      storage: f.storage,
      authFailureDelay: 400,
    };
    const a = startSession(options);
    const b = startSession(options);
    await greeted(a.client);
    await greeted(b.client);
    assert.equal(await a.client.cmd("USER alice"), "+OK");
    const t0 = Date.now();
    await a.client.send("PASS nope\r\n");
    const failed = a.client.line().then((line) => ({ line, at: Date.now() }));
    await delay(20); // A is now in its delay.
    assert.equal(await b.client.cmd("USER bob"), "+OK");
    assert.match(await b.client.cmd("PASS bob-pw") ?? "", /^\+OK bob has 3/);
    assert.equal(await b.client.cmd("STAT"), "+OK 3 " + f.memory.size("bob"));
    assert.equal(await b.client.cmd("QUIT"), "+OK Bye");
    const bDone = Date.now() - t0;
    const aFailed = await failed;
    assert.equal(aFailed.line, "-ERR [AUTH] Authentication failed");
    assert.ok(
      aFailed.at - t0 >= 380,
      `failure answered after ${aFailed.at - t0} ms`,
    );
    assert.ok(bDone < 300, `other client took ${bDone} ms`);
    assert.match(await a.client.cmd("PASS " + PASSWORD) ?? "", /^-ERR/);
    await a.client.cmd("QUIT");
    await Promise.all([a.done, b.done]);
  });
});

describe("Pop3d connection limits", () => {
  async function server(options: {
    maxConnections?: number;
    maxConnectionsPerAddress?: number;
  }) {
    const listener = new MemoryListener();
    const f = fixture();
    const pop3d = new Pop3d({
      ...options,
      plaintextAuth: "always",
      authFailureDelay: 0,
      authPenalty: false,
      auth: f.auth,
      storage: f.storage,
      socket: () => listener,
    });
    await pop3d.up();
    return { listener, pop3d };
  }

  async function loggedIn(
    client: LineClient,
    user: string,
    password: string,
  ): Promise<void> {
    await greeted(client);
    assert.equal(await client.cmd(`USER ${user}`), "+OK");
    assert.match(await client.cmd(`PASS ${password}`) ?? "", /^\+OK /);
  }

  it("Pop3d refuses connections over maxConnections once all are logged in and accepts again after one ends", async () => {
    const { listener, pop3d } = await server({ maxConnections: 2 });
    const clients: LineClient[] = [];
    for (
      const [i, user, pw] of [[0, "alice", PASSWORD], [1, "bob", "bob-pw"]]
    ) {
      const c = new LineClient(listener.connect(`198.51.100.${i}`));
      await loggedIn(c, user as string, pw as string);
      clients.push(c);
    }
    const extra = new LineClient(listener.connect("198.51.100.9"));
    assert.equal(
      await extra.line(),
      "-ERR [SYS/TEMP] Too many connections, try again later",
    );
    assert.equal(await extra.line(), null);
    assert.equal(pop3d.conn.list().length, 2);
    assert.equal(await clients[0].cmd("QUIT"), "+OK Bye");
    await clients[0].closed;
    await delay(5);
    const again = new LineClient(listener.connect("198.51.100.9"));
    await greeted(again);
    await pop3d.destroy("kill");
  });

  it("Pop3d refuses connections over maxConnectionsPerAddress from one address only, once all from there are logged in", async () => {
    const { listener, pop3d } = await server({ maxConnectionsPerAddress: 2 });
    const a1 = new LineClient(listener.connect("203.0.113.1"));
    const a2 = new LineClient(listener.connect("203.0.113.1"));
    await loggedIn(a1, "alice", PASSWORD);
    await loggedIn(a2, "bob", "bob-pw");
    const a3 = new LineClient(listener.connect("203.0.113.1"));
    assert.equal(
      await a3.line(),
      "-ERR [SYS/TEMP] Too many connections from your address",
    );
    assert.equal(await a3.line(), null);
    const b1 = new LineClient(listener.connect("203.0.113.2"));
    await greeted(b1);
    a1.drop();
    await a1.closed;
    await delay(5);
    const a4 = new LineClient(listener.connect("203.0.113.1"));
    await greeted(a4);
    await pop3d.destroy("kill");
  });
});

describe("Pop3Session backpressure", () => {
  it("Pop3Session pulls a message only as fast as the client reads it", async () => {
    const line = new TextEncoder().encode("p".repeat(1022) + "\r\n");
    const size = 64 * 1024 * 1024;
    let pulled = 0;
    const f = fixture();
    const { client, done } = startSession({
      auth: f.auth,
      storage: {
        ...f.storage,
        size: (m: string, id?: number) =>
          id === 1 ? size : f.storage.size(m, id),
        get: (m: string, id: number) =>
          id !== 1 ? f.storage.get(m, id) : new ReadableStream<Uint8Array>({
            pull(c) {
              if (pulled >= size) return c.close();
              c.enqueue(line);
              pulled += line.length;
            },
          }, { highWaterMark: 0 }),
      },
    });
    assert.match(await client.line() ?? "", /^\+OK /);
    assert.equal(await client.cmd("USER alice"), "+OK");
    assert.match(await client.cmd("PASS " + PASSWORD) ?? "", /^\+OK /);
    client.whenReceived(256 * 1024, () => client.pause());
    await client.send("RETR 1\r\n");
    await delay(200);
    assert.ok(client.bytes < 1024 * 1024, `client read ${client.bytes} octets`);
    const ahead = pulled - client.bytes;
    assert.ok(
      ahead < 512 * 1024,
      `server pulled ${ahead} octets ahead of the client`,
    );
    client.drop();
    await within(1000, done, "session end");
    assert.ok(pulled < 4 * 1024 * 1024, `pulled ${pulled} octets`);
  });

  it("Pop3Session stops reading a pipelined flood when the client does not read the replies", async () => {
    const f = fixture();
    const { client, done } = startSession({ auth: f.auth, storage: f.storage });
    assert.match(await client.line() ?? "", /^\+OK /);
    assert.equal(await client.cmd("USER alice"), "+OK");
    assert.match(await client.cmd("PASS " + PASSWORD) ?? "", /^\+OK /);
    client.pause();
    const chunk = new TextEncoder().encode("NOOP\r\n".repeat(10_000));
    let written = 0;
    let stop = false;
    const flooding = (async () => {
      while (!stop && await client.send(chunk)) written += chunk.length;
    })();
    await delay(300);
    const writtenThen = written;
    await delay(100);
    // The server stopped reading: the writer is stuck, a few chunks in.
    assert.equal(written, writtenThen);
    assert.ok(written < 2 * 1024 * 1024, `client wrote ${written} octets`);
    stop = true;
    client.drop();
    await within(1000, Promise.all([done, flooding]), "session end");
    assert.equal(f.locked(), 0);
  });
});

describe("Pop3d option defaults", () => {
  it("DEFAULTS keep every limit finite and the timeouts within RFC 1939", async () => {
    const { DEFAULTS } = await import("../../src/server/options.ts");
    assert.ok(DEFAULTS.idleTimeout >= 600_000);
    assert.ok(DEFAULTS.loginTimeout < DEFAULTS.idleTimeout);
    assert.equal(DEFAULTS.maxLineLength, 255);
    assert.ok(DEFAULTS.maxAuthLineLength > 255);
    for (
      const k of [
        "callbackTimeout",
        "writeTimeout",
        "maxBadCommands",
        "maxAuthFailures",
        "maxConnections",
        "maxConnectionsPerAddress",
      ] as const
    ) {
      assert.ok(Number.isFinite(DEFAULTS[k]) && DEFAULTS[k] > 0, k);
    }
    assert.ok(DEFAULTS.authFailureDelay > 0);
  });
});
