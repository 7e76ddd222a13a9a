// The host runtime's adapter must pace a RETR by the client: while the
// client reads nothing, the server pulls only a bounded part of a 64 MiB
// message from storage; once it reads, every byte arrives intact.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import {
  defaultSocket,
  MemoryAuth,
  Pop3d,
  type Pop3dStorage,
} from "../../mod.ts";
import {
  python,
  type PythonChild,
  runtimeName,
  waitUntil,
} from "../_helpers/runtime.ts";

const LINE = 1024; // octets per line, CRLF included
const CHUNK_LINES = 64; // 64 KiB per pull
const TOTAL = 64 * 1024 * 1024;
const BOUND = 8 * 1024 * 1024;

function chunk(index: number): Uint8Array {
  const bytes = new Uint8Array(LINE * CHUNK_LINES).fill(0x78);
  for (let i = 0; i < CHUNK_LINES; i++) {
    const head = String(index * CHUNK_LINES + i).padStart(10, "0");
    for (let j = 0; j < head.length; j++) {
      bytes[i * LINE + j] = head.charCodeAt(j);
    }
    bytes[i * LINE + LINE - 2] = 13;
    bytes[i * LINE + LINE - 1] = 10;
  }
  return bytes;
}

/** One message of TOTAL octets, made on demand; counts what was pulled. */
function bigStorage() {
  const stats = { pulled: 0, cancelled: false };
  const storage: Pop3dStorage<string> = {
    lock: () => true,
    unlock: () => {},
    stat: () => 1,
    size: () => TOTAL,
    get: () => {
      let next = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (next * LINE * CHUNK_LINES >= TOTAL) return controller.close();
          const bytes = chunk(next++);
          stats.pulled += bytes.length;
          controller.enqueue(bytes);
        },
        cancel: () => void (stats.cancelled = true),
      }, { highWaterMark: 0 });
    },
    dele: () => {},
  };
  return { storage, stats };
}

function expectedDigest(): string {
  const hash = createHash("sha256");
  for (let i = 0; i * LINE * CHUNK_LINES < TOTAL; i++) hash.update(chunk(i));
  return hash.digest("hex");
}

// Logs in, sends RETR 1, then reads nothing until a line arrives on stdin
// ("read": read it all and QUIT; "leave": close the socket unread). A small
// receive buffer keeps the kernel from soaking up megabytes for us.
const SLOW_CLIENT = `
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
assert f.readline().startswith(b"+OK")
s.sendall(b"USER big\\r\\nPASS pw\\r\\nRETR 1\\r\\n")
print("SENT", flush=True)
if sys.stdin.readline().strip() == "leave":
    s.close()
    sys.exit(0)
assert f.readline().startswith(b"+OK"), "USER"
assert f.readline().startswith(b"+OK"), "PASS"
assert f.readline().startswith(b"+OK"), "RETR"
h = hashlib.sha256()
n = 0
while True:
    line = f.readline()
    if line == b".\\r\\n":
        break
    if line.startswith(b"."):
        line = line[1:]
    h.update(line)
    n += len(line)
s.sendall(b"QUIT\\r\\n")
assert f.readline().startswith(b"+OK"), "QUIT"
print("DONE", n, h.hexdigest(), flush=True)
`;

/** Waits until `pulled` stops growing (no change for half a second). */
async function settled(stats: { pulled: number }): Promise<number> {
  let last = -1;
  let still = 0;
  const until = Date.now() + 15_000;
  while (still < 5 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    still = stats.pulled === last ? still + 1 : 0;
    last = stats.pulled;
  }
  return last;
}

async function withServer(
  run: (
    client: PythonChild,
    stats: { pulled: number; cancelled: boolean },
    server: Pop3d<string>,
  ) => Promise<void>,
): Promise<void> {
  const { storage, stats } = bigStorage();
  const auth = new MemoryAuth().addUser("big", "pw");
  const server = new Pop3d({ hostname: "127.0.0.1", port: 0, auth, storage });
  await server.up();
  const client = python(SLOW_CLIENT, [String(server.cget("port"))]);
  try {
    await run(client, stats, server);
  } finally {
    client.kill();
    await server.destroy();
  }
}

describe(`Backpressure on ${runtimeName()}`, () => {
  test("RETR pulls a bounded amount while the client does not read, then sends every byte", async () => {
    const digest = expectedDigest();
    await withServer(async (client, stats) => {
      await client.waitFor("SENT");
      const stalled = await settled(stats);
      console.log(
        `${runtimeName()}: pulled ${
          (stalled / 2 ** 20).toFixed(2)
        } MiB of 64 MiB while the client did not read`,
      );
      assert.ok(stalled > 0, "the transfer never started");
      assert.ok(stalled < BOUND, `pulled ${stalled} octets, bound ${BOUND}`);
      client.send("read");
      const result = await client.done;
      assert.equal(result.code, 0, result.stderr);
      const [, octets, hex] = result.stdout.match(/DONE (\d+) ([0-9a-f]+)/) ??
        [];
      assert.equal(Number(octets), TOTAL);
      assert.equal(hex, digest);
      assert.equal(stats.pulled, TOTAL);
    });
  });

  test("a client that leaves mid-RETR ends the session and cancels the source", async () => {
    await withServer(async (client, stats, server) => {
      await client.waitFor("SENT");
      const stalled = await settled(stats);
      assert.ok(stalled < BOUND, `pulled ${stalled} octets, bound ${BOUND}`);
      client.send("leave");
      assert.equal((await client.done).code, 0);
      assert.ok(
        await waitUntil(() => server.conn.list().length === 0, 10_000),
        "the session is still open",
      );
      assert.ok(
        await waitUntil(() => stats.cancelled),
        "the message stream was not cancelled",
      );
      assert.ok(stats.pulled < TOTAL);
    });
  });
});

// Blasts 8 MiB at a connection the server does not read, then lets the
// server read it all. A small send buffer keeps the client's kernel honest.
const FAST_SENDER = `
import socket, sys, time
TOTAL = 8 << 20
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.setblocking(False)
block = b"x" * 65536
sent = 0
deadline = time.time() + 1.5
while sent < TOTAL and time.time() < deadline:
    try:
        sent += s.send(block[: min(len(block), TOTAL - sent)])
    except BlockingIOError:
        time.sleep(0.01)
print("STALLED", sent, flush=True)
sys.stdin.readline()
s.setblocking(True)
while sent < TOTAL:
    sent += s.send(block[: min(len(block), TOTAL - sent)])
s.close()
print("DONE", sent, flush=True)
`;

test(`${runtimeName()} adapter reads nothing while no read is pending`, async () => {
  const listener = await defaultSocket({ hostname: "127.0.0.1", port: 0 });
  const client = python(FAST_SENDER, [String(listener.addr.port)]);
  try {
    const accepted = await listener[Symbol.asyncIterator]().next();
    assert.ok(!accepted.done);
    const conn = accepted.value;
    const stalled = Number((await client.waitFor("STALLED")).split(" ")[1]);
    console.log(
      `${runtimeName()}: the client got ${
        (stalled / 2 ** 20).toFixed(2)
      } MiB of 8 MiB into an unread connection`,
    );
    assert.ok(stalled < 4 * 2 ** 20, `the client sent ${stalled} octets`);
    client.send("go");
    let received = 0;
    for await (const chunk of conn.readable) received += chunk.length;
    assert.equal(received, 8 << 20);
    assert.equal((await client.done).code, 0);
    conn.close();
  } finally {
    client.kill();
    await listener.close();
  }
});
