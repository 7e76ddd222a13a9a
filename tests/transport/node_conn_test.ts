/**
 * The one Node socket bridge (`_node_conn.ts`) under real TLS: what the
 * core wrote just before it closed the connection must reach the client.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import tls from "node:tls";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { tlsSocket } from "../../src/transport/tls_socket.ts";
import { fromNodeSocket } from "../../src/transport/_node_conn.ts";
import { available, makeCert, type TestCert } from "../_helpers/tls.ts";
import { sleep, within } from "../_helpers/pop3_client.ts";
import { directIo } from "../../src/transport/_direct.ts";

const OPENSSL = await available("openssl", ["version"]);

/** Sends `input` at once after the handshake and returns all until the server closes. */
function exchange(port: number, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = tls.connect(
      { host: "127.0.0.1", port, rejectUnauthorized: false },
      () => socket.write(input),
    );
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => text += chunk);
    socket.on("error", reject);
    socket.on("close", () => resolve(text));
  });
}

(OPENSSL ? describe : describe.skip)("fromNodeSocket over TLS", () => {
  let cert: TestCert;
  let server: Pop3d<string>;
  before(async () => {
    cert = await makeCert();
    const storage = new MemoryStorage();
    storage.deliver("alice", "Subject: x\r\n\r\nhello\r\n");
    server = new Pop3d({
      hostname: "127.0.0.1",
      port: 0,
      socket: tlsSocket({ cert: cert.cert, key: cert.key }),
      auth: new MemoryAuth().addUser("alice", "secret"),
      storage,
      authFailureDelay: 0,
    });
    await server.up();
  });
  after(async () => {
    await server.destroy();
    await cert.remove();
  });

  it("fromNodeSocket delivers the replies written just before close over TLS", async () => {
    const port = server.cget("port") as number;
    for (let i = 0; i < 10; i++) {
      const text = await within(
        exchange(
          port,
          "CAPA\r\nUSER alice\r\nPASS secret\r\nRETR 1\r\nQUIT\r\n",
        ),
        5000,
        "the session",
      );
      assert.match(text, /^\+OK POP3 server ready/);
      assert.match(text, /\r\nhello\r\n\.\r\n/, `run ${i}`);
      assert.match(text, /\+OK Bye\r\n$/, `run ${i}`);
    }
  });
});

describe("fromNodeSocket per-connection cost", () => {
  it("fromNodeSocket shares one set of listener functions across sockets and still reads", async () => {
    const accepted: net.Socket[] = [];
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      accepted.push(socket);
    });
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", resolve)
    );
    const { port } = server.address() as net.AddressInfo;
    const clients = [
      net.connect({ host: "127.0.0.1", port }),
      net.connect({ host: "127.0.0.1", port }),
    ];
    try {
      await within(
        (async () => {
          while (accepted.length < 2) {
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        })(),
        5000,
        "two connections",
      );
      const conns = accepted.map((socket) =>
        fromNodeSocket(socket, { encrypted: false })
      );
      // No closure per connection: an idle connection is mostly such objects.
      for (const event of ["data", "end", "close", "drain"]) {
        const [a, b] = accepted.map((s) => s.listeners(event).at(-1));
        assert.equal(typeof a, "function", event);
        assert.equal(a, b, `"${event}" listener shared`);
      }
      // The local address is read when asked for, not per connection (on
      // Node the socket keeps what getsockname returned).
      const sockname = (s: net.Socket) =>
        (s as unknown as { _sockname?: unknown })._sockname;
      assert.ok(sockname(accepted[0]) == null, "not read yet");
      assert.deepEqual(conns[0].localAddr, { hostname: "127.0.0.1", port });
      assert.equal(conns[0].remoteAddr.hostname, "127.0.0.1");
      const ports = clients.map((c) => c.localPort);
      assert.ok(ports.includes(conns[0].remoteAddr.port), `${ports}`);
      clients[1].write("NOOP\r\n");
      const reader = conns[1].readable.getReader();
      const { value } = await within(reader.read(), 5000, "a read");
      assert.equal(new TextDecoder().decode(value), "NOOP\r\n");
      reader.releaseLock();
      for (const conn of conns) conn.close();
    } finally {
      for (const client of clients) client.destroy();
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("fromNodeSocket released()", () => {
  it("fromNodeSocket released() waits while the socket still holds a written chunk", async () => {
    // A write resolves when socket.write() returns true, which it does
    // with up to the high-water mark of the chunk still queued. The session
    // writes a RETR from buffers it fills again: it must wait for released().
    const accepted: net.Socket[] = [];
    const server = net.createServer((socket) => void accepted.push(socket));
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", resolve)
    );
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect({ host: "127.0.0.1", port });
    client.pause(); // reads nothing until told
    try {
      await within(
        (async () => {
          while (accepted.length < 1) await sleep(5);
        })(),
        5000,
        "a connection",
      );
      const socket = accepted[0];
      const io = directIo(fromNodeSocket(socket, { encrypted: false }))!;
      assert.equal(typeof io.released, "function");
      // Fill the kernel's buffers until a resolved write leaves bytes held.
      const chunk = new Uint8Array(8 * 1024);
      await within(
        (async () => {
          for (;;) {
            await io.write(chunk);
            if (socket.writableLength === 0) continue;
            await sleep(5);
            if (socket.writableLength > 0) return;
          }
        })(),
        20_000,
        "full buffers",
      );
      let released = false;
      const waited = Promise.resolve(io.released!()).then(() => {
        released = true;
      });
      await sleep(100);
      assert.equal(released, false, "released while the socket holds bytes");
      client.resume();
      await within(waited, 5000, "released() after the client read");
      assert.equal(socket.writableLength, 0);
    } finally {
      client.destroy();
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
