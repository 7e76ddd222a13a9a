/**
 * The built-in adapters' direct path: the session reads and writes their
 * connections without making the Web streams of `Conn` (each pair costs
 * 2-5 KiB per idle connection).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import { directIo } from "../../src/transport/_direct.ts";
import type {
  Conn,
  Listener,
  ListenOptions,
} from "../../src/transport/types.ts";
import { pop3Connect } from "../_helpers/net_client.ts";
import { eventually } from "../_helpers/fixture.ts";

/** Counts how often anyone asks a conn for its `readable` or `writable`. */
function watchStreams(conn: Conn, counts: { streams: number }): void {
  for (const name of ["readable", "writable"] as const) {
    let owner: object | null = conn;
    let desc: PropertyDescriptor | undefined;
    while (owner !== null && desc === undefined) {
      desc = Object.getOwnPropertyDescriptor(owner, name);
      owner = Object.getPrototypeOf(owner);
    }
    const original = desc!;
    Object.defineProperty(conn, name, {
      configurable: true,
      get() {
        counts.streams++;
        return original.get ? original.get.call(conn) : original.value;
      },
    });
  }
}

describe("Conn direct path of the default socket", () => {
  it("Pop3Session serves a default-socket connection without making its Web streams", async () => {
    const counts = { streams: 0, conns: 0, direct: 0 };
    const socket = async (options: ListenOptions): Promise<Listener> => {
      const inner = await defaultSocket(options);
      return {
        addr: inner.addr,
        close: () => inner.close(),
        async *[Symbol.asyncIterator]() {
          for await (const conn of inner) {
            counts.conns++;
            if (directIo(conn) !== undefined) counts.direct++;
            watchStreams(conn, counts);
            yield conn;
          }
        },
      };
    };
    const storage = new MemoryStorage();
    storage.deliver("alice", "Subject: one\r\n\r\n.dot\r\nHello\r\n");
    const server = new Pop3d<string>({
      port: 0,
      hostname: "127.0.0.1",
      auth: new MemoryAuth().addUser("alice", "secret"),
      storage,
      authFailureDelay: 0,
      authPenalty: false,
      socket,
    });
    await server.up();
    try {
      const c = await pop3Connect(server.cget("port") as number);
      await c.login("alice", "secret");
      assert.equal(await c.cmd("STAT"), "+OK 1 29");
      const r = await c.multi("RETR 1");
      assert.equal(
        new TextDecoder().decode(r.body),
        "Subject: one\r\n\r\n.dot\r\nHello\r\n",
      );
      assert.equal(await c.cmd("QUIT"), "+OK Bye");
      await c.closed();
      await eventually(() => server.conn.list().length === 0, "session end");
      assert.equal(counts.conns, 1);
      assert.equal(counts.direct, 1);
      assert.equal(counts.streams, 0, "no Web stream was made");
    } finally {
      await server.destroy();
    }
  });
});
