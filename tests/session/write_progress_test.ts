/**
 * A large reply goes to the connection in one write when the connection
 * counts the octets the kernel takes within a write (`progress()`); the
 * write deadline then reads that count, so a slow but steady reader is
 * told from a stalled one without cutting replies into small pieces.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { ReplyWriter } from "../../src/session/reply_writer.ts";
import type { SessionObserver } from "../../src/session/config.ts";
import type { ConnWriter } from "../../src/transport/_direct.ts";
import { directWriter } from "../../src/transport/_direct.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import { tlsSocket } from "../../src/transport/tls_socket.ts";
import type { Conn, SocketFactory } from "../../src/transport/types.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { within } from "../_helpers/pop3_client.ts";
import { available, makeCert, python, RUNTIME } from "../_helpers/tls.ts";
import type { Pop3dOptions } from "../../src/server/options.ts";

const OPENSSL = await available("openssl", ["version"]);
const PYTHON = await available("python3", ["--version"]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const observer: SessionObserver = {
  wantsCommands: false,
  wantsTranscript: false,
  event() {},
  error() {},
  transcript() {},
  count() {},
};

/** A writer that records its writes; with `taken`, it counts progress. */
class Recorder implements ConnWriter {
  writes: number[] = [];
  taken: number | undefined;
  gate: PromiseWithResolvers<void> | undefined;
  constructor(counts: boolean) {
    this.taken = counts ? 0 : undefined;
  }
  write(chunk: Uint8Array): Promise<void> | void {
    this.writes.push(chunk.length);
    return this.gate?.promise;
  }
  progress(): number | undefined {
    return this.taken;
  }
  releaseLock(): void {}
}

describe("ReplyWriter and the connection's progress", () => {
  it("ReplyWriter writes a large part whole to a connection that counts its progress, in 32 KiB pieces to one that does not", async () => {
    for (const counts of [true, false]) {
      const writer = new Recorder(counts);
      const out = new ReplyWriter(1, observer, () => {});
      out.attach(writer);
      out.push(new Uint8Array(300 * 1024));
      await out.flush();
      assert.deepEqual(
        writer.writes,
        counts ? [300 * 1024] : [...Array(9).fill(32 * 1024), 12 * 1024],
        counts ? "whole" : "pieces",
      );
      assert.equal(out.bytesOut, 300 * 1024);
    }
  });

  it("ReplyWriter's stalledSince moves on when the connection's count grows within a write, and only then", async () => {
    const writer = new Recorder(true);
    writer.gate = Promise.withResolvers<void>();
    const out = new ReplyWriter(1, observer, () => {});
    out.attach(writer);
    out.push(new Uint8Array(1024 * 1024));
    const flushed = out.flush();
    const first = out.stalledSince;
    assert.notEqual(first, 0, "a write runs");
    await sleep(30);
    assert.equal(out.stalledSince, first, "no progress, no change");
    writer.taken = 65_536;
    const second = out.stalledSince;
    assert.ok(second > first, `progress noted: ${second} > ${first}`);
    await sleep(30);
    assert.equal(out.stalledSince, second, "no more progress, no change");
    writer.taken = 1024 * 1024;
    writer.gate.resolve();
    await flushed;
    assert.equal(out.stalledSince, 0, "no write runs");
  });
});

/** A listener of `socket`, one conn accepted, and a client to it. */
async function connPair(
  socket: SocketFactory,
  connect: (port: number) => net.Socket,
): Promise<{ conn: Conn; client: net.Socket; close(): Promise<void> }> {
  const listener = await socket({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener[Symbol.asyncIterator]().next();
  const client = connect(listener.addr.port);
  client.on("error", () => {});
  const { value: conn } = await within(accepted, 5000, "a connection");
  return {
    conn,
    client,
    async close() {
      client.destroy();
      await conn.close();
      await listener.close();
    },
  };
}

/**
 * Writes 16 MiB, more than loopback's socket buffers hold, in one write
 * to a client that reads slowly, and samples the writer's count while the
 * write is pending: it must grow, and (with `octets`) end at every octet.
 */
async function countsWhilePending(
  writer: ConnWriter,
  client: net.Socket,
  octets = true,
): Promise<void> {
  const before = writer.progress?.();
  assert.equal(typeof before, "number", "no progress count");
  const size = 16 * 1024 * 1024;
  client.pause();
  let done = false;
  const written = Promise.resolve(writer.write(new Uint8Array(size)))
    .then(() => void (done = true));
  const seen = new Set<number>();
  let read = 0;
  while (!done && read < size) {
    await sleep(10);
    let chunk: Buffer | null;
    for (let i = 0; i < 4 && (chunk = client.read()) !== null; i++) {
      read += chunk.length;
    }
    if (!done) seen.add(writer.progress!()!);
  }
  client.resume();
  client.on("data", () => {});
  await within(written, 20_000, "the write");
  assert.ok(
    seen.size >= 3,
    `the count grew while the write was pending: ${[...seen]}`,
  );
  if (octets) {
    assert.equal(writer.progress!()! - before!, size, "every octet counted");
  }
}

describe("The runtime's own sockets count their progress", () => {
  it("the default socket's writer counts what the kernel takes while one large write is pending", async () => {
    const { conn, client, close } = await connPair(
      defaultSocket,
      (port) => net.connect({ host: "127.0.0.1", port }),
    );
    try {
      // Deno and Bun count octets, Node the octets libuv still queues.
      await countsWhilePending(
        directWriter(conn)!,
        client,
        RUNTIME !== "node",
      );
    } finally {
      await close();
    }
  });

  // Deno's `node:tls` has no count of its own: a POP3S conn there writes in
  // pieces, as before.
  const tlsCounts = RUNTIME !== "deno" && OPENSSL;
  (tlsCounts ? it : it.skip)(
    "a POP3S conn's writer counts the kernel's progress too (Node: the TCP handle under TLS; Bun: its own TLS)",
    async () => {
      const cert = await makeCert();
      const { conn, client, close } = await connPair(
        tlsSocket({ cert: cert.cert, key: cert.key }),
        (port) =>
          tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }),
      );
      try {
        // Node counts libuv's queue of TLS records, Bun the octets it took.
        await countsWhilePending(
          directWriter(conn)!,
          client,
          RUNTIME === "bun",
        );
      } finally {
        await close();
        await cert.remove();
      }
    },
  );
});

/** What the slow-reader tests serve: one message of two 16 MiB chunks. */
const CHUNK_SIZE = 16 * 1024 * 1024;
const CHUNKS = 2;

/**
 * A server whose one message comes as a default stream of 16 MiB chunks,
 * each of which the session writes whole, with `writeTimeout` 1200 ms; the
 * reasons of its closed connections go to `closes`.
 */
async function slowServer(
  closes: string[],
  options: Partial<Pop3dOptions<string>> = {},
): Promise<Pop3d<string>> {
  // Lines of 1,022 "z" and CRLF, one chunk shared by both (the tests run on
  // one runtime's heap with the others: no copy of the whole message).
  const line = new TextEncoder().encode("z".repeat(1022) + "\r\n");
  const chunk = new Uint8Array(CHUNK_SIZE);
  for (let at = 0; at < CHUNK_SIZE; at += line.length) chunk.set(line, at);
  const server = new Pop3d<string>({
    hostname: "127.0.0.1",
    port: 0,
    auth: new MemoryAuth().addUser("alice", "pw"),
    storage: {
      lock: () => true,
      unlock: () => {},
      stat: () => 1,
      size: () => CHUNKS * CHUNK_SIZE, // the message and the maildrop
      dele: () => {},
      get: () => {
        let left = CHUNKS;
        return new ReadableStream<Uint8Array>({
          pull(controller) {
            if (left-- > 0) controller.enqueue(chunk);
            else controller.close();
          },
        });
      },
    },
    writeTimeout: 1200,
    onEvent: (e) => {
      if (e.type === "close") closes.push(e.reason);
    },
    ...options,
  });
  await server.up();
  return server;
}

/**
 * STLS, login and RETR 1, then reads at `rate` octets per second; prints
 * the octets read and whether the terminator came.
 */
const SLOW_STLS_CLIENT = String.raw`
import json, socket, ssl, sys, time
port, rate = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
def line(sock):
    b = b""
    while not b.endswith(b"\r\n"):
        c = sock.recv(1)
        if not c:
            break
        b += c
    return b
line(s)
s.sendall(b"STLS\r\n")
line(s)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
t.sendall(b"USER alice\r\nPASS pw\r\nRETR 1\r\n")
got, tail, start = 0, b"", time.monotonic()
while True:
    b = t.recv(65536)
    if not b:
        break
    got += len(b)
    tail = (tail + b)[-64:]
    if tail.endswith(b"\r\n.\r\n"):
        break
    lag = got / rate - (time.monotonic() - start)
    if lag > 0:
        time.sleep(lag)
print(json.dumps({"got": got, "done": tail.endswith(b"\r\n.\r\n")}))
`;

/** Connects, shakes hands at once (the server's startTls()), reads to the end. */
const TLS_CLIENT = String.raw`
import json, socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
got = 0
while True:
    b = t.recv(65536)
    if not b:
        break
    got += len(b)
print(json.dumps({"got": got}))
`;

describe("STLS conns count their progress", () => {
  (OPENSSL && PYTHON ? it : it.skip)(
    "the default socket's conn after startTls() has a writer that counts progress and says when it let go",
    async () => {
      const cert = await makeCert();
      const listener = await defaultSocket({
        hostname: "127.0.0.1",
        port: 0,
        tls: { cert: cert.cert, key: cert.key },
      });
      try {
        const accepted = listener[Symbol.asyncIterator]().next();
        const client = python(TLS_CLIENT, [String(listener.addr.port)]);
        const { value: plain } = await within(accepted, 5000, "a connection");
        const secure: Conn = await within(
          plain.startTls!(),
          5000,
          "the handshake",
        );
        const writer = directWriter(secure);
        assert.ok(writer, "no direct writer after STLS");
        assert.equal(typeof writer.progress?.(), "number", "no progress count");
        assert.equal(typeof writer.released, "function", "no released()");
        await writer.write(new Uint8Array(100_000).fill(0x61));
        await writer.released!();
        await secure.close();
        assert.deepEqual(await within(client, 10_000, "the client"), {
          got: 100_000,
        });
      } finally {
        await listener.close();
        await cert.remove();
      }
    },
  );
});

describe("Write deadline on 127.0.0.1, one write per part", () => {
  // The kernel tells a writer of free space only once a third or so of its
  // send buffer drained: at 8 MB/s about every 0.2 s here, well within the
  // deadline; a write of 16 MiB takes about two seconds.
  it("Slow reader: a RETR of 16 MiB chunks read at ~8 MB/s is not cut off by writeTimeout 1200 ms, though each write takes two seconds", async () => {
    const closes: string[] = [];
    const server = await slowServer(closes);
    const client = net.connect({
      host: "127.0.0.1",
      port: server.cget("port") as number,
    });
    try {
      let text = "";
      let got = 0;
      const rate = 8000; // octets per millisecond
      const ended = new Promise<boolean>((resolve) => {
        client.on("close", () => resolve(false));
        client.on("data", (data: Buffer) => {
          got += data.length;
          text = (text + data.toString("latin1")).slice(-64);
          if (text.endsWith("\r\n.\r\n")) resolve(true);
          client.pause();
          setTimeout(() => client.resume(), data.length / rate);
        });
      });
      client.write("USER alice\r\nPASS pw\r\nRETR 1\r\n");
      assert.equal(
        await within(ended, 60_000, "the RETR"),
        true,
        `cut off after ${got} octets (${closes})`,
      );
      assert.ok(got > CHUNKS * CHUNK_SIZE, `${got} octets`);
      assert.deepEqual(closes.filter((r) => r === "timeout"), []);
    } finally {
      client.destroy();
      await server.destroy();
    }
  });

  (OPENSSL && PYTHON ? it : it.skip)(
    "Slow reader after STLS: python's ssl client reading at ~8 MB/s is not cut off either",
    async () => {
      const cert = await makeCert();
      const closes: string[] = [];
      const server = await slowServer(closes, {
        tls: { cert: cert.cert, key: cert.key },
      });
      try {
        const result = await python(SLOW_STLS_CLIENT, [
          String(server.cget("port")),
          "8000000",
        ]) as { got: number; done: boolean };
        assert.equal(
          result.done,
          true,
          `cut off after ${result.got} octets (${closes})`,
        );
        assert.ok(result.got > CHUNKS * CHUNK_SIZE, `${result.got} octets`);
        assert.deepEqual(closes.filter((r) => r === "timeout"), []);
      } finally {
        await server.destroy();
        await cert.remove();
      }
    },
  );
});
