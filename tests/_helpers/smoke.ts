/**
 * One POP3 transcript over a real socket on 127.0.0.1:0, shared by the
 * runtime smoke tests so every adapter passes the same checks.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as net from "node:net";
import {
  MemoryAuth,
  MemoryStorage,
  Pop3d,
  type SocketFactory,
} from "../../mod.ts";
import { converse, waitUntil } from "./runtime.ts";

/** Runs a login, STAT, LIST, RETR, DELE and QUIT transcript through `socket`. */
export async function smokeTranscript(socket: SocketFactory): Promise<void> {
  const auth = new MemoryAuth().addUser("alice", "secret");
  const storage = new MemoryStorage();
  storage.deliver("alice", "Subject: one\r\n\r\nHello\r\n.dot line\r\n");
  storage.deliver("alice", "Subject: two\r\n\r\nBye\r\n");
  const server = new Pop3d({
    hostname: "127.0.0.1",
    port: 0,
    auth,
    storage,
    socket,
  });
  await server.up();
  try {
    const port = server.cget("port") as number;
    assert.notEqual(port, 0);
    const replies = await converse(port, [
      "USER alice",
      "PASS secret",
      "STAT",
      "LIST",
      "RETR 1",
      "DELE 2",
      "QUIT",
    ]);
    assert.equal(replies.length, 8);
    assert.match(replies[0], /^\+OK POP3 server ready <.+@.+>\r\n$/);
    assert.match(replies[2], /^\+OK/);
    assert.equal(replies[3], "+OK 2 55\r\n");
    assert.equal(
      replies[4],
      "+OK 2 messages (55 octets)\r\n1 34\r\n2 21\r\n.\r\n",
    );
    assert.equal(
      replies[5],
      "+OK 34 octets\r\nSubject: one\r\n\r\nHello\r\n..dot line\r\n.\r\n",
    );
    assert.match(replies[6], /^\+OK/);
    assert.match(replies[7], /^\+OK/);
    assert.ok(await waitUntil(() => server.conn.list().length === 0));
    assert.equal(storage.stat("alice"), 1);
    assert.equal(storage.isLocked("alice"), false);
  } finally {
    await server.destroy();
  }
}

/**
 * Sends a whole session at once and half-closes: the server must still
 * answer every command, QUIT included, before it closes.
 */
export async function pipelinedHalfClose(socket: SocketFactory): Promise<void> {
  const auth = new MemoryAuth().addUser("alice", "secret");
  const storage = new MemoryStorage();
  storage.deliver("alice", "Subject: one\r\n\r\nHello\r\n");
  const server = new Pop3d({
    hostname: "127.0.0.1",
    port: 0,
    auth,
    storage,
    socket,
  });
  await server.up();
  try {
    const port = server.cget("port") as number;
    const text = await new Promise<string>((resolve, reject) => {
      const client = net.connect({ host: "127.0.0.1", port });
      let received = "";
      client.setEncoding("latin1");
      client.on("data", (chunk: string) => received += chunk);
      client.on("error", reject);
      client.on("close", () => resolve(received));
      client.end("USER alice\r\nPASS secret\r\nSTAT\r\nDELE 1\r\nQUIT\r\n");
    });
    const lines = text.split("\r\n").slice(0, -1);
    assert.equal(lines.length, 6, text);
    assert.ok(lines.every((l) => l.startsWith("+OK")), text);
    assert.ok(await waitUntil(() => server.conn.list().length === 0));
    assert.equal(storage.stat("alice"), 0);
  } finally {
    await server.destroy();
  }
}
