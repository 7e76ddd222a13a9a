/**
 * Testing a mail client against a real POP3 server started in-process.
 *
 *     deno test -A examples/testing.ts
 *     bun test ./examples/testing.ts
 *     node --test examples/testing.ts        (Node 24+)
 *
 * `fetchMail` below stands for the code under test: a small POP3 client over
 * `node:net` that downloads every message and deletes it from the server.
 * The tests start a `Pop3d` on port 0 with a `TestBackend` as its auth and
 * storage, deliver mail, turn faults on, and check what the server saw.
 */

import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { Pop3d } from "../mod.ts";
import { InjectedFaultError, TestBackend } from "../testing.ts";

// ---- the client under test ----------------------------------------------

/** A POP3 connection that reads replies line by line. */
class Pop3Connection {
  #socket: Socket;
  #buffer = "";
  #lines: string[] = [];
  #waiting: ((line: string | null) => void) | undefined;
  #closed = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (data: string) => {
      this.#buffer += data;
      let at: number;
      while ((at = this.#buffer.indexOf("\r\n")) !== -1) {
        this.#lines.push(this.#buffer.slice(0, at));
        this.#buffer = this.#buffer.slice(at + 2);
      }
      this.#wake();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  static open(port: number, timeoutMs: number): Promise<Pop3Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port }, () => {
        socket.off("error", reject);
        resolve(new Pop3Connection(socket));
      });
      socket.setTimeout(timeoutMs, () => socket.destroy());
      socket.once("error", reject);
    });
  }

  #wake(): void {
    const waiting = this.#waiting;
    if (!waiting) return;
    if (this.#lines.length > 0) {
      this.#waiting = undefined;
      waiting(this.#lines.shift()!);
    } else if (this.#closed) {
      this.#waiting = undefined;
      waiting(null);
    }
  }

  /** The next line; rejects when the server closed the connection. */
  async line(): Promise<string> {
    const line = this.#lines.length > 0
      ? this.#lines.shift()!
      : await new Promise<string | null>((resolve) => {
        this.#waiting = resolve;
        this.#wake();
      });
    if (line === null) throw new Error("Connection closed by the server");
    return line;
  }

  /** Sends a command; returns its `+OK` line or throws with the `-ERR` line. */
  async command(text: string): Promise<string> {
    this.#socket.write(`${text}\r\n`);
    const reply = await this.line();
    if (!reply.startsWith("+OK")) throw new Error(reply);
    return reply;
  }

  /** Reads a multi-line body up to the `.` line, undoing dot-stuffing. */
  async body(): Promise<string> {
    const lines: string[] = [];
    for (let line = await this.line(); line !== "."; line = await this.line()) {
      lines.push(line.startsWith(".") ? line.slice(1) : line);
    }
    return lines.map((l) => l + "\r\n").join("");
  }

  close(): void {
    this.#socket.destroy();
  }
}

/**
 * Downloads every message, deletes it on the server, and returns the
 * messages. A message counts as downloaded only when the `.` line arrived.
 */
async function fetchMail(
  port: number,
  user: string,
  password: string,
  timeoutMs = 5000,
): Promise<string[]> {
  const pop = await Pop3Connection.open(port, timeoutMs);
  try {
    await pop.line(); // greeting
    await pop.command(`USER ${user}`);
    await pop.command(`PASS ${password}`);
    const [, count] = (await pop.command("STAT")).split(" ");
    const messages: string[] = [];
    for (let n = 1; n <= Number(count); n++) {
      await pop.command(`RETR ${n}`);
      messages.push(await pop.body());
      await pop.command(`DELE ${n}`);
    }
    await pop.command("QUIT");
    return messages;
  } finally {
    pop.close();
  }
}

// ---- the tests ------------------------------------------------------------

describe("fetchMail", () => {
  let backend: TestBackend;
  let server: Pop3d<string>;
  let port: number;
  const serverErrors: unknown[] = [];

  beforeEach(async () => {
    backend = new TestBackend();
    backend.addUser("alice", "secret");
    server = new Pop3d<string>({
      port: 0,
      hostname: "127.0.0.1",
      auth: backend,
      storage: backend,
      authFailureDelay: 0,
      authPenalty: false,
      onError: (error) => serverErrors.push(error),
    });
    await server.up();
    port = server.cget("port") as number;
    serverErrors.length = 0;
  });

  afterEach(async () => {
    backend.clearFaults(); // ends injected delays, so sessions can finish
    await server.destroy("kill");
    backend.reset();
  });

  it("downloads every message, then deletes them", async () => {
    backend.deliver("alice", "Subject: one\n\nFirst\n", { uid: "m1" });
    backend.deliver("alice", "Subject: two\n\n.dotted\n", { uid: "m2" });

    const messages = await fetchMail(port, "alice", "secret");

    assert.deepEqual(messages, [
      "Subject: one\r\n\r\nFirst\r\n",
      "Subject: two\r\n\r\n.dotted\r\n",
    ]);
    assert.deepEqual(backend.retrieved("alice"), ["m1", "m2"]);
    assert.deepEqual(backend.deleted("alice"), ["m1", "m2"]);
    assert.equal(backend.messages("alice").length, 0);
  });

  it("fails on a temporary server error and deletes nothing", async () => {
    backend.deliver("alice", "Subject: one\n\nFirst\n", { uid: "m1" });
    backend.inject({ on: "get", uid: "m1", error: "SYS/TEMP", times: 1 });

    await assert.rejects(
      fetchMail(port, "alice", "secret"),
      /^Error: -ERR \[SYS\/TEMP\]/,
    );
    assert.deepEqual(backend.deleted("alice"), []);

    // The fault hit once: the next run gets the message.
    assert.equal((await fetchMail(port, "alice", "secret")).length, 1);
  });

  it("never keeps a message cut off by a dropped connection", async () => {
    backend.deliver("alice", "Subject: one\n\n" + "line\n".repeat(1000), {
      uid: "m1",
    });
    backend.inject({ on: "get", uid: "m1", dropAfter: 100 });

    await assert.rejects(
      fetchMail(port, "alice", "secret"),
      /Connection closed by the server/,
    );
    assert.deepEqual(
      backend.retrievals().map((r) => r.status),
      ["dropped"],
    );
    assert.ok(serverErrors[0] instanceof InjectedFaultError);
    assert.deepEqual(backend.deleted("alice"), []);
  });

  it("reports a mailbox locked by another session", async () => {
    backend.inject({ on: "lock", user: "alice", refuse: true });
    await assert.rejects(
      fetchMail(port, "alice", "secret"),
      /^Error: -ERR \[IN-USE\]/,
    );
  });

  it("gives up on a server slower than its timeout", async () => {
    backend.deliver("alice", "Subject: one\n\nFirst\n", { uid: "m1" });
    backend.inject({ on: "get", delay: 2000 });
    const started = Date.now();
    await assert.rejects(
      fetchMail(port, "alice", "secret", 300),
      /Connection closed/,
    );
    assert.ok(Date.now() - started < 1500);
    assert.deepEqual(backend.deleted("alice"), []);
  });
});
