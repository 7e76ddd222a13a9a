/**
 * What an idle logged-in session keeps alive on the JavaScript heap beyond
 * the runtime's socket with a read pending, counted in V8 heap snapshots
 * (where `node:v8` gives one: Node and Deno; skipped elsewhere). Counts of
 * objects, not bytes or timings: the same for the same code.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import * as v8 from "node:v8";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import { directIo } from "../../src/transport/_direct.ts";
import type { Conn } from "../../src/transport/types.ts";
import { eventually } from "../_helpers/fixture.ts";

const SESSIONS = 40;

interface HeapSnapshotJson {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** The snapshot's node counts by name, or undefined where there is none. */
async function heapCounts(): Promise<Map<string, number> | undefined> {
  let text = "";
  try {
    for await (const chunk of v8.getHeapSnapshot()) text += String(chunk);
  } catch {
    return undefined;
  }
  let snap: HeapSnapshotJson;
  try {
    snap = JSON.parse(text);
  } catch {
    return undefined;
  }
  const fields = snap.snapshot?.meta?.node_fields;
  if (!Array.isArray(fields) || !Array.isArray(snap.nodes)) return undefined;
  const nameAt = fields.indexOf("name");
  const counts = new Map<string, number>();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const name = snap.strings[snap.nodes[i + nameAt]];
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/**
 * A logged-in client with no promise or async function of its own (so
 * that the counts are the server's): greeting, USER and PASS pipelined,
 * resolved on the third `+OK` line.
 */
function idleClient(port: number, user: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let oks = 0;
    socket.setEncoding("latin1");
    socket.on("error", reject);
    socket.on("data", (text: string) => {
      for (const line of text.split("\r\n")) {
        if (line.startsWith("-ERR")) reject(new Error(line));
        if (line.startsWith("+OK") && ++oks === 3) resolve(socket);
      }
    });
    socket.write(`USER ${user}\r\nPASS secret\r\n`);
  });
}

type Counts = Map<string, number>;

/** Per connection: what `after` has more of `name` than `before`. */
function per(before: Counts, after: Counts, name: string): number {
  return ((after.get(name) ?? 0) - (before.get(name) ?? 0)) / SESSIONS;
}

/**
 * The runtime's share: the default socket's conns, each with one read
 * pending as an idle session has (Deno's `conn.read` is itself an async
 * function of the runtime's), and no session.
 */
async function transportShare(): Promise<[Counts, Counts] | undefined> {
  const listener = await defaultSocket({ hostname: "127.0.0.1", port: 0 });
  const pending: Promise<unknown>[] = [];
  const accepted: Conn[] = [];
  const sockets: Socket[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      accepted.push(conn);
      const io = directIo(conn);
      pending.push(io ? io.read() : conn.readable.getReader().read());
    }
  })();
  try {
    const before = await heapCounts();
    if (before === undefined) return undefined;
    for (let i = 0; i < SESSIONS; i++) {
      sockets.push(connect(listener.addr.port, "127.0.0.1"));
    }
    await eventually(() => pending.length === SESSIONS, "the conns");
    return [before, (await heapCounts())!];
  } finally {
    // Handled only now, or the handlers would count as the runtime's.
    for (const read of pending) read.catch(() => {});
    for (const socket of sockets) socket.destroy();
    for (const conn of accepted) conn.close();
    await listener.close();
    await accepting.catch(() => {});
  }
}

describe("an idle logged-in session", () => {
  it("keeps one suspended function and two promise reactions alive", async (t) => {
    const auth = new MemoryAuth();
    const storage = new MemoryStorage();
    for (let i = 0; i < SESSIONS; i++) {
      auth.addUser(`u${i}`, "secret");
      storage.deliver(`u${i}`, "Subject: hi\r\n\r\nHello\r\n");
    }
    const server = new Pop3d<string>({
      port: 0,
      hostname: "127.0.0.1",
      auth,
      storage,
      authFailureDelay: 0,
      authPenalty: false,
    });
    await server.up();
    const sockets: Socket[] = [];
    try {
      const port = server.cget("port") as number;
      // A session first: the code and caches it builds are not per session.
      sockets.push(await idleClient(port, "u0"));
      sockets.pop()!.end("QUIT\r\n");
      await eventually(
        () => server.conn.list().length === 0,
        "the first session to end",
      );
      const before = await heapCounts();
      if (before === undefined) {
        t.skip("no V8 heap snapshot on this runtime");
        return;
      }
      for (let i = 0; i < SESSIONS; i++) {
        sockets.push(await idleClient(port, `u${i}`));
      }
      assert.equal(server.conn.list().length, SESSIONS);
      const after = (await heapCounts())!;
      const [bare, conns] = (await transportShare())!;
      const perSession = (name: string) =>
        per(before, after, name) - per(bare, conns, name);
      // The session's run loop awaiting the next read; the read it awaits
      // and the server's count of running sessions wait on it. Were two
      // suspended functions and four reactions: the read in a helper the
      // loop awaited, and two `finally` chains on the run.
      assert.ok(
        perSession("Generator") <= 1.1,
        `suspended async functions per session: ${perSession("Generator")}`,
      );
      assert.ok(
        perSession("system / PromiseReaction") <= 2.1,
        `promise reactions per session: ${
          perSession("system / PromiseReaction")
        }`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.destroy("kill");
    }
  });
});
