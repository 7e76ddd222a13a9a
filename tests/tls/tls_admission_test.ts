/**
 * Connections to the POP3S port count from accept: silent TCP connections
 * that never start their TLS handshake are evicted like any connection that
 * has not logged in, over real sockets and real TLS.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import type { Pop3dEvent } from "../../src/server/events.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { tlsSocket } from "../../src/transport/tls_socket.ts";
import { available, makeCert, type TestCert } from "../_helpers/tls.ts";
import { within } from "../_helpers/pop3_client.ts";

const OPENSSL = await available("openssl", ["version"]);

interface Silent {
  socket: net.Socket;
  closed: Promise<void>;
}

/** A TCP connection that never sends a byte (no ClientHello). */
function silent(port: number): Promise<Silent> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      socket.off("error", reject);
      resolve({ socket, closed });
    });
    socket.on("data", () => {});
    const closed = new Promise<void>((done) =>
      socket.on("close", () => done())
    );
    socket.once("error", reject);
  });
}

/** A node:tls client that reads the greeting line. */
function tlsGreeting(
  port: number,
): Promise<{ line: string; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      rejectUnauthorized: false, // admission is tested here, not verification
    });
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      const at = text.indexOf("\r\n");
      if (at >= 0) resolve({ line: text.slice(0, at), socket });
    });
    socket.on("error", reject);
    socket.on(
      "close",
      () => reject(new Error(`closed after ${JSON.stringify(text)}`)),
    );
  });
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

(OPENSSL ? describe : describe.skip)(
  "tlsSocket connections count from accept",
  () => {
    let cert: TestCert;
    before(async () => {
      cert = await makeCert();
    });
    after(async () => {
      await cert.remove();
    });

    function server(
      options: { maxConnections: number; handshakeTimeout?: number },
    ) {
      const events: Pop3dEvent[] = [];
      const pop3d = new Pop3d({
        hostname: "127.0.0.1",
        port: 0,
        socket: tlsSocket({
          cert: cert.cert,
          key: cert.key,
          handshakeTimeout: options.handshakeTimeout,
        }),
        maxConnections: options.maxConnections,
        auth: new MemoryAuth().addUser("alice", "secret"),
        storage: new MemoryStorage(),
        onEvent: (e) => events.push(e),
      });
      return { pop3d, events };
    }

    it("Pop3d evicts silent TCP connections to the POP3S port so that a TLS client gets its greeting", async () => {
      const { pop3d, events } = server({ maxConnections: 5 });
      await pop3d.up();
      const port = pop3d.cget("port") as number;
      const idle: Silent[] = [];
      try {
        let most = 0;
        for (let i = 0; i < 20; i++) {
          idle.push(await silent(port));
          // The server sees the connection at accept, before any handshake.
          await eventually(
            () => pop3d.stats().connectionsTotal === i + 1,
            `connection ${i + 1} counted`,
          );
          most = Math.max(most, pop3d.conn.list().length);
        }
        assert.ok(most <= 5, `at most 5 open, saw ${most}`);
        assert.equal(pop3d.conn.list().length, 5);
        for (const id of pop3d.conn.list()) {
          assert.equal(pop3d.conn.state(id).state, "auth");
          assert.equal(pop3d.conn.state(id).encrypted, true);
        }
        const client = await within(tlsGreeting(port), 5000, "the greeting");
        assert.match(client.line, /^\+OK /);
        assert.ok(pop3d.conn.list().length <= 5);
        // 21 connections, 5 kept: the 16 oldest silent ones were dropped.
        await within(
          Promise.all(idle.slice(0, 16).map((c) => c.closed)),
          5000,
          "the oldest silent connections to close",
        );
        assert.equal(pop3d.stats().connectionsEvicted, 16);
        assert.equal(pop3d.stats().connectionsRefused, 0);
        await eventually(
          () => events.filter((e) => e.type === "close").length === 16,
          "16 close events",
        );
        for (const e of events) {
          if (e.type === "close") assert.equal(e.reason, "evicted");
        }
        client.socket.destroy();
      } finally {
        for (const c of idle) c.socket.destroy();
        await pop3d.destroy("kill");
      }
    });

    it("tlsSocket still drops a connection that does not finish its handshake within handshakeTimeout", async () => {
      const { pop3d, events } = server({
        maxConnections: 5,
        handshakeTimeout: 200,
      });
      await pop3d.up();
      const port = pop3d.cget("port") as number;
      try {
        const c = await silent(port);
        await eventually(() => pop3d.conn.list().length === 1, "counted");
        await within(c.closed, 5000, "the handshake timeout");
        await eventually(
          () => pop3d.conn.list().length === 0,
          "the session to end",
        );
        const close = events.find((e) => e.type === "close");
        assert.ok(close && close.type === "close");
        assert.equal(pop3d.stats().connectionsEvicted, 0);
        assert.equal(
          pop3d.stats().errors,
          0,
          "a client's handshake is not a server fault",
        );
      } finally {
        await pop3d.destroy("kill");
      }
    });
  },
);
