import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { memoryConnPair, memoryListener } from "../../src/transport/memory.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { Pop3Client, within } from "../_helpers/pop3_client.ts";

const te = new TextEncoder();
const td = new TextDecoder();

describe("memoryConnPair", () => {
  it("memoryConnPair carries bytes both ways", async () => {
    const [client, server] = memoryConnPair();
    const cw = client.writable.getWriter();
    const sr = server.readable.getReader();
    const sw = server.writable.getWriter();
    const cr = client.readable.getReader();
    const [up] = await Promise.all([
      sr.read(),
      cw.write(te.encode("NOOP\r\n")),
    ]);
    assert.equal(td.decode(up.value), "NOOP\r\n");
    const [down] = await Promise.all([
      cr.read(),
      sw.write(te.encode("+OK\r\n")),
    ]);
    assert.equal(td.decode(down.value), "+OK\r\n");
    client.close();
  });

  it("memoryConnPair barely buffers: a write waits for a read", async () => {
    const [client, server] = memoryConnPair();
    const sw = server.writable.getWriter();
    let written = false;
    const write = sw.write(te.encode("x")).then(() => written = true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(written, false);
    const cr = client.readable.getReader();
    await cr.read();
    await within(write, 1000, "the write");
    assert.equal(written, true);
    server.close();
  });

  it("memoryConnPair server close ends the client's reads and the server's own", async () => {
    const [client, server] = memoryConnPair();
    const cr = client.readable.getReader();
    const sr = server.readable.getReader();
    const pendingClient = cr.read();
    const pendingServer = sr.read();
    server.close();
    assert.equal((await within(pendingClient, 1000, "client read")).done, true);
    assert.equal((await within(pendingServer, 1000, "server read")).done, true);
    server.close(); // twice is fine
  });

  it("memoryConnPair client close ends server reads and fails server writes", async () => {
    const [client, server] = memoryConnPair();
    const sr = server.readable.getReader();
    const sw = server.writable.getWriter();
    const pending = sr.read();
    client.close();
    assert.equal((await within(pending, 1000, "server read")).done, true);
    await assert.rejects(sw.write(te.encode("late")));
  });

  it("memoryConnPair lets the client half-close and still read", async () => {
    const [client, server] = memoryConnPair();
    const cw = client.writable.getWriter();
    const sr = server.readable.getReader();
    const sw = server.writable.getWriter();
    const cr = client.readable.getReader();
    const reads = Promise.all([sr.read(), sr.read()]);
    await cw.write(te.encode("QUIT\r\n"));
    await cw.close();
    const [first, second] = await within(reads, 1000, "server reads");
    assert.equal(td.decode(first.value), "QUIT\r\n");
    assert.equal(second.done, true);
    const [bye] = await Promise.all([
      cr.read(),
      sw.write(te.encode("+OK\r\n")),
    ]);
    assert.equal(td.decode(bye.value), "+OK\r\n");
    server.close();
    assert.equal((await cr.read()).done, true);
  });

  it("memoryConnPair reports the addresses it was given", () => {
    const [, server] = memoryConnPair({
      remoteAddr: { hostname: "192.0.2.7", port: 5555 },
      localAddr: { hostname: "198.51.100.1", port: 995 },
    });
    assert.deepEqual(server.remoteAddr, { hostname: "192.0.2.7", port: 5555 });
    assert.deepEqual(server.localAddr, { hostname: "198.51.100.1", port: 995 });
    assert.equal(server.encrypted, false);
    server.close();
  });
});

describe("memoryListener", () => {
  it("memoryListener yields what connect opens, and close ends the iteration", async () => {
    const listener = memoryListener({ hostname: "127.0.0.1", port: 0 });
    assert.ok(listener.addr.port > 0);
    const accepted: string[] = [];
    const loop = (async () => {
      for await (const conn of listener) {
        accepted.push(`${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`);
        conn.close();
      }
    })();
    const a = listener.connect({ hostname: "192.0.2.1", port: 1 });
    const b = listener.connect({ hostname: "192.0.2.2", port: 2 });
    // The server closed them: the client reads end.
    assert.equal((await a.readable.getReader().read()).done, true);
    assert.equal((await b.readable.getReader().read()).done, true);
    await listener.close();
    await within(loop, 1000, "the accept loop to end");
    assert.deepEqual(accepted, ["192.0.2.1:1", "192.0.2.2:2"]);
    assert.equal(listener.closed, true);
    assert.throws(() => listener.connect(), /closed/);
  });

  it("memoryListener keeps a given port and picks distinct ones for port 0", () => {
    assert.equal(memoryListener({ port: 1110 }).addr.port, 1110);
    const a = memoryListener().addr.port;
    const b = memoryListener().addr.port;
    assert.notEqual(a, b);
  });

  it("memoryListener serves a Pop3d session end to end", async () => {
    const listener = memoryListener();
    const auth = new MemoryAuth().addUser("alice", "secret");
    const storage = new MemoryStorage();
    storage.deliver("alice", "Subject: hi\r\n\r\nHello\r\n");
    const server = new Pop3d({ socket: () => listener, auth, storage });
    try {
      await server.up();
      assert.equal(server.cget("port"), listener.addr.port);
      const client = new Pop3Client(listener.connect());
      assert.match(await client.greeting(), /^\+OK .*<[^>]+@[^>]+>$/);
      await client.login("alice", "secret");
      const retr = await client.multi("RETR 1");
      assert.equal(td.decode(retr.body), "Subject: hi\r\n\r\nHello\r\n");
      assert.match(await client.cmd("QUIT"), /^\+OK/);
      await client.closed();
    } finally {
      await server.destroy("kill");
    }
  });
});
