/**
 * STLS: a client that sends STLS, reads `+OK` and then goes away before the
 * TLS handshake is done must end its session at once, not when the login or
 * idle deadline fires. Real loopback sockets, on the host's default adapter
 * and on `node:net` (which every runtime ships), bare and behind a PROXY
 * header.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import type { Pop3dEvent } from "../../src/session/events.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import { listenNode } from "../../src/transport/node.ts";
import { proxySocket } from "../../src/transport/proxy_socket.ts";
import type { SocketFactory } from "../../src/transport/types.ts";
import { makeCert, RUNTIME } from "../_helpers/tls.ts";

/** Far beyond the 5 s the tests wait: only a closed socket ends the session. */
const DEADLINE = 60_000;

/** Reads from `socket` until `text` has arrived. */
function until(socket: Socket, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = "";
    const onData = (chunk: Uint8Array) => {
      got += new TextDecoder().decode(chunk);
      if (!got.includes(text)) return;
      socket.off("data", onData);
      socket.off("error", reject);
      resolve();
    };
    socket.on("data", onData);
    socket.once("error", reject);
  });
}

/** A start of a ClientHello: record header, handshake type, no more. */
const PARTIAL_HELLO = new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xf4, 0x01]);

/** The first flight of a real TLS client, recorded once. */
const HELLO: Uint8Array = await new Promise((resolve, reject) => {
  const recorder = createServer((socket) => {
    socket.once("data", (chunk: Uint8Array) => {
      resolve(new Uint8Array(chunk));
      socket.destroy();
      recorder.close();
    });
  });
  recorder.listen(0, "127.0.0.1", () => {
    const { port } = recorder.address() as { port: number };
    connectTls({ port, host: "127.0.0.1", rejectUnauthorized: false })
      .on("error", () => {});
  });
  recorder.once("error", reject);
});

const GOODBYES: [string, (socket: Socket) => void | Promise<void>][] = [
  ["closes the socket", (socket) => socket.destroy()],
  ["sends part of a ClientHello and closes", (socket) => {
    socket.write(PARTIAL_HELLO);
    socket.end(() => socket.destroy());
  }],
  [
    "sends a ClientHello, reads the server's hello and closes",
    async (socket) => {
      // In the middle of the handshake: the server has sent its hello and
      // waits for the client's next flight.
      const reply = new Promise((resolve) => socket.once("data", resolve));
      socket.write(HELLO);
      await reply;
      socket.end(() => socket.destroy());
    },
  ],
  ["half-closes with end()", (socket) => socket.end()],
  ["resets the connection", (socket) => socket.resetAndDestroy()],
];

const PROXY = "PROXY TCP4 192.0.2.7 127.0.0.1 40000 110\r\n";
const trusted = { trusted: ["127.0.0.1/32"] };

/** A name, a factory and what the client sends before the greeting. */
const ADAPTERS: [string, SocketFactory, string][] = [
  [`the default socket on ${RUNTIME}`, defaultSocket, ""],
  ["listenNode", listenNode, ""],
  [
    `PROXY over the default socket on ${RUNTIME}`,
    proxySocket(defaultSocket, trusted),
    PROXY,
  ],
  ["PROXY over listenNode", proxySocket(listenNode, trusted), PROXY],
];

for (const [adapter, socket, header] of ADAPTERS) {
  describe(`STLS abandoned before the handshake, ${adapter}`, () => {
    for (const [what, goodbye] of GOODBYES) {
      it(`ends the session at once when the client ${what} after +OK`, async () => {
        const cert = await makeCert();
        const events: Pop3dEvent[] = [];
        const errors: unknown[] = [];
        const server = new Pop3d({
          hostname: "127.0.0.1",
          port: 0,
          socket,
          tls: { cert: cert.cert, key: cert.key },
          auth: new MemoryAuth().addUser("alice", "secret"),
          storage: new MemoryStorage(),
          loginTimeout: DEADLINE,
          idleTimeout: DEADLINE,
          onEvent: (event) => events.push(event),
          onError: (error) => errors.push(error),
        });
        await server.up();
        const client = connect(server.cget("port") as number, "127.0.0.1");
        client.on("error", () => {});
        if (header !== "") client.write(header);
        try {
          await until(client, "\r\n");
          const ok = until(client, "\r\n");
          client.write("STLS\r\n");
          await ok;
          await goodbye(client);
          const t0 = Date.now();
          while (!events.some((e) => e.type === "close")) {
            assert.ok(
              Date.now() - t0 < 5000,
              `session still open: ${JSON.stringify(server.conn.list())}`,
            );
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          assert.deepEqual(server.conn.list(), []);
          const close = events.find((e) => e.type === "close");
          assert.equal(close?.type === "close" && close.reason, "client");
          assert.ok(events.some((e) => e.type === "tls-failed"));
          assert.deepEqual(
            errors,
            [],
            "a client that leaves is no server error",
          );
        } finally {
          client.destroy();
          await server.destroy("kill");
          await cert.remove();
        }
      });
    }
  });
}
