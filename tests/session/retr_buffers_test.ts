/**
 * A RETR of a byte stream over a real socket: the session reads the stream
 * into a buffer of its own and encodes into another, each used again for
 * the next chunk once the connection let go of what was written; a stream
 * that can read into any memory (a Maildir file's) is read straight into
 * the encoder's memory. A client that reads slowly must still get every
 * octet as sent.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as net from "node:net";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { memoryListener } from "../../src/transport/memory.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import { proxySocket } from "../../src/transport/proxy_socket.ts";
import type { SocketFactory } from "../../src/transport/types.ts";
import type { Pop3dOptions } from "../../src/server/options.ts";
import { withReadInto } from "../../src/_util/read_into.ts";
import { prng } from "../_helpers/random.ts";
import { within } from "../_helpers/pop3_client.ts";

/** 1.5 MiB of text, different everywhere: lines of random length, some with a leading dot, half with bare LF. */
function message(): Uint8Array {
  const rand = prng(42);
  const lines: string[] = ["Subject: buffers", ""];
  let size = 0;
  for (let i = 0; size < 1.5 * 1024 * 1024; i++) {
    const dot = rand() < 0.1 ? "." : "";
    const line = `${dot}${i} ${"x".repeat(Math.floor(rand() * 120))}`;
    lines.push(line + (rand() < 0.5 ? "\r" : ""));
    size += line.length + 2;
  }
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

/** The wire form, as a reference: CRLF line ends, leading dots doubled, the terminator. */
function wire(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes).replace(/\r?\n/g, "\r\n");
  return text.replace(/^\./gm, "..") + ".\r\n";
}

const MESSAGE = message();
const WIRE_SHA = createHash("sha256").update(wire(MESSAGE)).digest("hex");
const SIZE = new TextDecoder().decode(MESSAGE).replace(/\r?\n/g, "\r\n").length;

/** The storage's stream: a byte stream that records the views it fills. */
function byteStream(views: number[]): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 1000, // what a default reader's views would be
    pull(controller) {
      const request = controller.byobRequest!;
      const view = request.view as Uint8Array;
      views.push(view.length);
      const n = Math.min(view.length, MESSAGE.length - at);
      if (n === 0) {
        controller.close();
        request.respond(0);
        return;
      }
      view.set(MESSAGE.subarray(at, at + n));
      at += n;
      request.respond(n);
    },
  });
}

/** Logs in, RETRs message 1 reading slowly (a pause after each read), returns the body's SHA-256. */
function slowRetr(
  port: number,
  preface = "",
): Promise<{ status: string; sha: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    socket.on("data", (data: Buffer) => {
      chunks.push(data);
      const text = Buffer.concat(chunks).toString("latin1");
      if (text.endsWith("\r\n.\r\n")) {
        socket.end("QUIT\r\n");
        const body = text.slice(text.indexOf("octets\r\n") + 8);
        const status = text.split("\r\n")[3];
        resolve({
          status,
          sha: createHash("sha256").update(body, "latin1").digest("hex"),
        });
        return;
      }
      socket.pause();
      setTimeout(() => socket.resume(), 1);
    });
    socket.on("error", reject);
    socket.write(preface + "USER alice\r\nPASS secret\r\nRETR 1\r\n");
  });
}

/** A default stream (PostgreSQL's kind) of 1 MiB chunks, each a fresh copy. */
function defaultStream(): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= MESSAGE.length) return controller.close();
      controller.enqueue(MESSAGE.slice(at, at + 1024 * 1024));
      at += 1024 * 1024;
    },
  }, { highWaterMark: 0 });
}

/** alice's maildrop with MESSAGE, its bytes from `get`; `onUnlock` sees each unlock. */
function serverOf(
  get: () => ReadableStream<Uint8Array>,
  options: Partial<Pop3dOptions<string>> = {},
  onUnlock = () => {},
  bytes = MESSAGE,
): Pop3d<string> {
  const storage = new MemoryStorage();
  storage.deliver("alice", bytes);
  return new Pop3d<string>({
    hostname: "127.0.0.1",
    port: 0,
    auth: new MemoryAuth().addUser("alice", "secret"),
    storage: {
      lock: (m) => storage.lock(m),
      unlock: (m) => {
        onUnlock();
        storage.unlock(m);
      },
      stat: (m) => storage.stat(m),
      size: (m, n) => storage.size(m, n),
      dele: (m, ids) => storage.dele(m, ids),
      get,
    },
    authFailureDelay: 0,
    authPenalty: false,
    ...options,
  });
}

function serverWith(socket?: SocketFactory, kind = "bytes"): {
  server: Pop3d<string>;
  views: number[];
} {
  const views: number[] = [];
  const server = serverOf(
    () => kind === "bytes" ? byteStream(views) : defaultStream(),
    socket ? { socket } : {},
  );
  return { server, views };
}

describe("RETR of a byte stream over a real socket", () => {
  const { server, views } = serverWith();
  before(() => server.up());
  after(() => server.destroy("kill"));

  it("Pop3Session reads a byte stream into its own 256 KiB buffer and sends every octet to a slow reader", async () => {
    const port = Number(server.cget("port"));
    for (let round = 0; round < 2; round++) {
      views.length = 0;
      const { status, sha } = await within(slowRetr(port), 30_000, "RETR");
      assert.equal(status, `+OK ${SIZE} octets`);
      assert.equal(sha, WIRE_SHA, `round ${round}: the body as sent`);
      // Our views, not the stream's own 1000-octet ones.
      assert.ok(
        views.length >= 6,
        `views: ${views.slice(0, 4)} (${views.length})`,
      );
      assert.ok(
        views.every((n) => n === 256 * 1024),
        `views: ${views.slice(0, 4)} (${views.length})`,
      );
    }
  });

  it("Pop3Session answers TOP from a byte stream, lets the stream go, and serves the next command", async () => {
    const text = await within(
      new Promise<string>((resolve, reject) => {
        const socket = net.connect({
          host: "127.0.0.1",
          port: Number(server.cget("port")),
        });
        let text = "";
        socket.setEncoding("latin1");
        socket.on("data", (data: string) => void (text += data));
        socket.on("error", reject);
        socket.on("close", () => resolve(text));
        socket.write(
          "USER alice\r\nPASS secret\r\nTOP 1 3\r\nNOOP\r\nQUIT\r\n",
        );
      }),
      10_000,
      "TOP",
    );
    const lines = new TextDecoder().decode(MESSAGE).split("\n");
    const top = lines.slice(0, 2 + 3).map((l) => l.replace(/\r$/, ""))
      .map((l) => l.startsWith(".") ? "." + l : l);
    const got = text.split("\r\n").slice(3);
    assert.match(got[0], /^\+OK/); // TOP
    assert.deepEqual(got.slice(1, 1 + top.length + 1), [...top, "."]);
    assert.match(got[top.length + 2], /^\+OK/); // NOOP: the session goes on
    assert.match(got[top.length + 3], /^\+OK/); // QUIT
  });
});

describe("RETR of a default stream of 1 MiB chunks over a real socket", () => {
  const { server } = serverWith(undefined, "default");
  before(() => server.up());
  after(() => server.destroy("kill"));

  it("Pop3Session encodes chunks of several slices into its own buffer and sends every octet to a slow reader", async () => {
    const port = Number(server.cget("port"));
    for (let round = 0; round < 2; round++) {
      const { status, sha } = await within(slowRetr(port), 30_000, "RETR");
      assert.equal(status, `+OK ${SIZE} octets`);
      assert.equal(sha, WIRE_SHA, `round ${round}: the body as sent`);
    }
  });
});

describe("RETR of a byte stream behind a PROXY header", () => {
  // The wrapper reads the header from the conn's stream; the session still
  // writes through the adapter's direct path, so it reuses its buffers.
  const { server, views } = serverWith(
    proxySocket(defaultSocket, { trusted: ["127.0.0.1/32"] }),
  );
  before(() => server.up());
  after(() => server.destroy("kill"));

  it("Pop3Session reads into its own buffer behind proxySocket and sends every octet", async () => {
    const port = Number(server.cget("port"));
    const { status, sha } = await within(
      slowRetr(port, "PROXY TCP4 127.0.0.9 127.0.0.1 40000 110\r\n"),
      30_000,
      "RETR",
    );
    assert.equal(status, `+OK ${SIZE} octets`);
    assert.equal(sha, WIRE_SHA);
    assert.ok(
      views.every((n) => n === 256 * 1024),
      `views: ${views.slice(0, 4)} (${views.length})`,
    );
  });
});

/** Logs in, RETRs message 1 (and `then`), returns all the server sent until it closed. */
function retrUntilClosed(port: number, then = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (data: string) => void (text += data));
    socket.on("error", reject);
    socket.on("close", () => resolve(text));
    socket.write("USER alice\r\nPASS secret\r\nRETR 1\r\n" + then);
  });
}

/**
 * RETRs message 1 of a server whose storage fails after two reads of
 * `chunk` octets: the status line, the two chunks encoded and nothing after
 * them (no terminator), and the storage's error reported.
 */
async function assertCutAfterTwo(
  server: Pop3d<string>,
  chunk: number,
  kind: "error" | "stall",
  errors: unknown[],
): Promise<void> {
  const text = await within(
    retrUntilClosed(Number(server.cget("port"))),
    10_000,
    "the server closing",
  );
  assert.match(text.split("\r\n")[3], /^\+OK \d+ octets$/);
  assert.ok(!text.endsWith("\r\n.\r\n"), "no terminator");
  const body = text.slice(text.indexOf("octets\r\n") + 8);
  assert.ok(body.length >= 2 * chunk, `${body.length} octets`);
  assert.ok(body.length < 2 * chunk * 1.25, `${body.length} octets`);
  assert.match(
    String(errors[0]),
    kind === "error" ? /disk gone/ : /did not settle within 300 ms/,
  );
}

describe("RETR of a byte stream that fails midway, over a real socket", () => {
  // Two chunks, then an error or nothing at all: the connection is cut
  // without the terminator, the error reported, the maildrop unlocked.
  const errors: unknown[] = [];
  let mode: "error" | "stall" = "error";
  let unlocked = 0;
  const server = serverOf(() => {
    let pulls = 0;
    return new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: 1000,
      pull(controller) {
        if (pulls++ === 2) {
          if (mode === "error") controller.error(new Error("disk gone"));
          return; // a stall: never answered
        }
        const request = controller.byobRequest!;
        const view = request.view as Uint8Array;
        view.set(MESSAGE.subarray(0, view.length));
        request.respond(view.length);
      },
    });
  }, {
    callbackTimeout: 300,
    onError: (error) => errors.push(error),
  }, () => unlocked++);
  before(() => server.up());
  after(() => server.destroy("kill"));

  for (const kind of ["error", "stall"] as const) {
    it(`Pop3Session cuts a RETR whose byte stream ${kind === "error" ? "errors" : "stalls"} after two chunks, without the terminator`, async () => {
      mode = kind;
      errors.length = 0;
      unlocked = 0;
      await assertCutAfterTwo(server, 256 * 1024, kind, errors);
      assert.equal(unlocked, 1);
    });
  }
});

describe("RETR of a byte stream over a conn that cannot say when it let go", () => {
  // The memory transport hands a written chunk on to the client as it is:
  // the session must not write into it again, so it reads chunk by chunk.
  let listener: ReturnType<typeof memoryListener>;
  const { server, views } = serverWith((o) =>
    listener = memoryListener({ port: o.port })
  );
  before(() => server.up());
  after(() => server.destroy("kill"));

  it("Pop3Session reads with a default reader there and sends every octet", async () => {
    const client = listener.connect();
    // Not awaited: the write settles once the server reads it, after the
    // greeting, which waits for us to read.
    const writer = client.writable.getWriter();
    writer.write(
      new TextEncoder().encode("USER alice\r\nPASS secret\r\nRETR 1\r\n"),
    ).catch(() => {});
    const reader = client.readable.getReader();
    const chunks: Uint8Array[] = [];
    let text = "";
    while (!text.endsWith("\r\n.\r\n")) {
      const { done, value } = await within(reader.read(), 10_000, "read");
      if (done) break;
      // Held, not copied: a later write into the same buffer would show.
      chunks.push(value);
      text = text.slice(-5) + new TextDecoder("latin1").decode(value);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const all = Buffer.concat(chunks).toString("latin1");
    const body = all.slice(all.indexOf("octets\r\n") + 8);
    assert.equal(
      createHash("sha256").update(body, "latin1").digest("hex"),
      WIRE_SHA,
    );
    assert.ok(
      views.every((n) => n === 1000),
      `views: ${views.slice(0, 4)} (${views.length})`,
    );
    client.close();
  });
});

/** The views a direct stream was asked to fill. */
interface Seen {
  lengths: number[];
  buffers: Set<ArrayBufferLike>;
}

/**
 * A stream of `bytes` that is read only through its ReadInto (its `pull`
 * fails), recording each view; `hook` may take over a read.
 */
function directStream(
  bytes: Uint8Array,
  seen: Seen,
  hook?: (read: number, view: Uint8Array) => Promise<number> | undefined,
): ReadableStream<Uint8Array> {
  let at = 0;
  let reads = 0;
  const stream = new ReadableStream<Uint8Array>({
    type: "bytes",
    pull() {
      throw new Error("read through the stream, not straight into memory");
    },
  });
  return withReadInto(stream, (view) => {
    seen.lengths.push(view.length);
    seen.buffers.add(view.buffer);
    const hooked = hook?.(reads++, view);
    if (hooked !== undefined) return hooked;
    const n = Math.min(view.length, bytes.length - at);
    view.set(bytes.subarray(at, at + n));
    at += n;
    return Promise.resolve(n);
  });
}

/** A server whose `get` serves `bytes` as a direct stream. */
function directServer(
  bytes: Uint8Array,
  seen: Seen,
  options: Partial<Pop3dOptions<string>> = {},
  hook?: (read: number, view: Uint8Array) => Promise<number> | undefined,
  onUnlock = () => {},
): Pop3d<string> {
  return serverOf(
    () => directStream(bytes, seen, hook),
    options,
    onUnlock,
    bytes,
  );
}

describe("RETR of a stream that reads straight into memory, over a real socket", () => {
  const seen: Seen = { lengths: [], buffers: new Set() };
  const server = directServer(MESSAGE, seen);
  before(() => server.up());
  after(() => server.destroy("kill"));

  it("Pop3Session reads a message into its encoder's memory, 512 KiB at a time, and sends every octet to a slow reader", async () => {
    const port = Number(server.cget("port"));
    for (let round = 0; round < 2; round++) {
      seen.lengths.length = 0;
      seen.buffers.clear();
      const { status, sha } = await within(slowRetr(port), 30_000, "RETR");
      assert.equal(status, `+OK ${SIZE} octets`);
      assert.equal(sha, WIRE_SHA, `round ${round}: the body as sent`);
      // 1.5 MiB: three full reads and the one that sees the end.
      assert.deepEqual(seen.lengths, [4, 4, 4, 4].map(() => 512 * 1024));
      // One memory, not transferred, read into again and again.
      assert.equal(seen.buffers.size, 1);
      assert.ok([...seen.buffers][0].byteLength > 512 * 1024);
    }
  });
});

/**
 * 1 MiB whose wire form is about twice as long: bare LFs, empty lines and
 * lines of a dot, more than the encoder's memory holds after a chunk.
 */
function dense(): Uint8Array {
  const rand = prng(7);
  const parts: string[] = [];
  let size = 0;
  while (size < 1024 * 1024) {
    const line = [".", "", "..", "a", ".b"][Math.floor(rand() * 5)];
    parts.push(line + "\n");
    size += line.length + 1;
  }
  return new TextEncoder().encode(parts.join(""));
}

describe("RETR of a dense message read straight into memory", () => {
  const bytes = dense();
  const seen: Seen = { lengths: [], buffers: new Set() };
  const server = directServer(bytes, seen);
  // The whole message in one, as the reference.
  const SHA = createHash("sha256").update(wire(bytes)).digest("hex");
  const size = new TextDecoder().decode(bytes).replace(/\n/g, "\r\n").length;
  const encoded = wire(bytes).length;
  before(() => server.up());
  after(() => server.destroy("kill"));

  it("Pop3Session encodes chunks whose wire form outgrows the encoder's memory another way, every octet as sent", async () => {
    assert.ok(encoded > 1.5 * bytes.length, `${encoded} octets on the wire`);
    const { status, sha } = await within(
      slowRetr(Number(server.cget("port"))),
      30_000,
      "RETR",
    );
    assert.equal(status, `+OK ${size} octets`);
    assert.equal(sha, SHA);
    assert.equal(seen.lengths.length, 3); // two chunks and the end
  });
});

describe("RETR of a stream read straight into memory that fails midway", () => {
  const errors: unknown[] = [];
  let mode: "error" | "stall" = "error";
  let unlocked = 0;
  const seen: Seen = { lengths: [], buffers: new Set() };
  const server = directServer(MESSAGE, seen, {
    callbackTimeout: 300,
    onError: (error) => errors.push(error),
  }, (read) => {
    if (read !== 2) return undefined;
    return mode === "error"
      ? Promise.reject(new Error("disk gone"))
      : new Promise<number>(() => {}); // a stall: never settles
  }, () => unlocked++);
  before(() => server.up());
  after(() => server.destroy("kill"));

  for (const kind of ["error", "stall"] as const) {
    it(`Pop3Session cuts a RETR whose direct read ${kind === "error" ? "fails" : "stalls"} after two chunks, without the terminator`, async () => {
      mode = kind;
      errors.length = 0;
      unlocked = 0;
      await assertCutAfterTwo(server, 512 * 1024, kind, errors);
      assert.equal(unlocked, 1);
    });
  }
});

describe("RETR read straight into memory, to a client that pauses", () => {
  // The storage deadline counts the reads, not the writes: a client that
  // stops reading for longer than callbackTimeout is not a stalled storage.
  const errors: unknown[] = [];
  const seen: Seen = { lengths: [], buffers: new Set() };
  // 30 MiB: more than the socket buffers of both ends take while the
  // client does not read.
  const big = new Uint8Array(20 * MESSAGE.length);
  for (let i = 0; i < 20; i++) big.set(MESSAGE, i * MESSAGE.length);
  const server = directServer(big, seen, {
    callbackTimeout: 300,
    onError: (error) => errors.push(error),
  });
  before(() => server.up());
  after(() => server.destroy("kill"));

  it("Pop3Session does not count a slow write against the storage's deadline", async () => {
    const port = Number(server.cget("port"));
    const text = await within(
      new Promise<string>((resolve, reject) => {
        const socket = net.connect({ host: "127.0.0.1", port });
        let tail = "";
        let paused = false;
        socket.on("data", (data: Buffer) => {
          const text = tail + data.toString("latin1");
          tail = text.slice(-64);
          if (tail.endsWith("\r\n.\r\n")) {
            socket.end("QUIT\r\n");
            return resolve(tail);
          }
          if (!paused && text.includes("octets\r\n")) {
            paused = true;
            socket.pause();
            setTimeout(() => socket.resume(), 900);
          }
        });
        socket.on("error", reject);
        socket.on("close", () => resolve(tail));
        socket.write("USER alice\r\nPASS secret\r\nRETR 1\r\n");
      }),
      30_000,
      "RETR",
    );
    assert.ok(text.endsWith("\r\n.\r\n"), "the whole message");
    assert.deepEqual(errors, []);
    assert.ok(seen.lengths.length > 40, `${seen.lengths.length} reads`);
  });
});

describe("RETR read straight into memory, a client gone while a read is pending", () => {
  // The read into the encoder's memory ends after the session did: that
  // memory must not serve the next message in the meantime.
  const seen: Seen = { lengths: [], buffers: new Set() };
  let late: ((n: number) => void) | undefined;
  let lateView: Uint8Array | undefined;
  let holding = true;
  // The held read outlasts the deadline; the session ends, the read not.
  const server = directServer(MESSAGE, seen, {
    callbackTimeout: 300,
    onError: () => {},
  }, (read, view) => {
    if (!holding || read !== 1) return undefined;
    lateView = view;
    return new Promise<number>((resolve) => late = resolve);
  });
  before(() => server.up());
  after(() => server.destroy("kill"));

  it("Pop3Session gives no encoder memory with a read in flight to another RETR", async () => {
    const port = Number(server.cget("port"));
    // The first client leaves once its message began; the second read is
    // held.
    await within(
      new Promise<void>((resolve, reject) => {
        const socket = net.connect({ host: "127.0.0.1", port });
        socket.on("data", (data: Buffer) => {
          if (data.toString("latin1").includes("octets\r\n")) {
            socket.destroy();
            resolve();
          }
        });
        socket.on("error", reject);
        socket.write("USER alice\r\nPASS secret\r\nRETR 1\r\n");
      }),
      10_000,
      "the first RETR",
    );
    while (late === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const first = [...seen.buffers][0];
    // Wait for the first session to end (its maildrop unlocked).
    holding = false;
    seen.buffers.clear();
    seen.lengths.length = 0;
    for (let tries = 0;; tries++) {
      const text = await within(
        retrUntilClosed(port, "QUIT\r\n"),
        10_000,
        "RETR",
      );
      if (!text.includes("-ERR")) {
        assert.ok(text.includes("\r\n.\r\n+OK"), text.slice(-300));
        break;
      }
      assert.ok(tries < 100, text);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(!seen.buffers.has(first), "the held block was used again");
    // The late read lands in memory no one else uses.
    lateView!.fill(0x58);
    late!(lateView!.length);
  });
});
