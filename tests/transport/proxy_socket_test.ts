// proxySocket over real loopback sockets: the client's address from the
// PROXY header reaches conn.state, events and per-address limits of Pop3d
// and Lmtpd; untrusted peers, bad and late headers are closed and reported.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { Pop3d } from "../../src/server/pop3d.ts";
import type { Pop3dEvent } from "../../src/server/events.ts";
import { Lmtpd } from "../../src/lmtp/lmtpd.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import { memoryListener } from "../../src/transport/memory.ts";
import { proxySocket } from "../../src/transport/proxy_socket.ts";
import {
  PROXY_V2_SIGNATURE,
  type ProxyProtocolError,
} from "../../src/transport/proxy_protocol.ts";

const te = new TextEncoder();

/** A raw client: writes bytes, reads CRLF lines. */
class Raw {
  #socket: Socket;
  #buffer = "";
  #closed = false;
  #wake: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      this.#buffer += d;
      this.#wake?.();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#wake?.();
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port }, () => resolve(new Raw(s)));
      s.once("error", reject);
    });
  }

  write(bytes: Uint8Array | string): void {
    this.#socket.write(typeof bytes === "string" ? te.encode(bytes) : bytes);
  }

  async line(): Promise<string | null> {
    for (;;) {
      const i = this.#buffer.indexOf("\r\n");
      if (i !== -1) {
        const line = this.#buffer.slice(0, i);
        this.#buffer = this.#buffer.slice(i + 2);
        return line;
      }
      if (this.#closed) return null;
      await new Promise<void>((r) => this.#wake = r);
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}

function v1(source: string, port = 40001): string {
  return `PROXY TCP4 ${source} 127.0.0.1 ${port} 110\r\n`;
}

function v2v6(): Uint8Array {
  const body = [
    0x20,
    0x01,
    0x0d,
    0xb8,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x42,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x01,
    0xea,
    0x60,
    0x00,
    0x18,
  ];
  return Uint8Array.from([
    ...PROXY_V2_SIGNATURE,
    0x21,
    0x21,
    0,
    body.length,
    ...body,
  ]);
}

function setup(options: {
  trusted?: string[];
  timeout?: number;
  maxConnectionsPerAddress?: number;
} = {}) {
  const errors: ProxyProtocolError[] = [];
  const events: Pop3dEvent[] = [];
  const auth = new MemoryAuth().addUser("alice", "pw");
  const storage = new MemoryStorage();
  storage.deliver("alice", "Subject: x\r\n\r\nhi\r\n");
  const server = new Pop3d({
    port: 0,
    hostname: "127.0.0.1",
    auth,
    storage,
    authFailureDelay: 0,
    // 192.0.2.7 is no loopback address: "loopback" would refuse USER/PASS.
    plaintextAuth: "always",
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? 100,
    onEvent: (e) => events.push(e),
    socket: proxySocket(defaultSocket, {
      trusted: options.trusted ?? ["127.0.0.0/8"],
      timeout: options.timeout,
      onError: (e) => errors.push(e),
    }),
  });
  return { server, errors, events, auth, storage };
}

describe("proxySocket", () => {
  it("proxySocket gives Pop3d the client address of a v1 header and keeps the bytes sent with it", async () => {
    const { server, events } = setup();
    await server.up();
    const c = await Raw.open(server.cget("port") as number);
    try {
      // Header and commands in one write: nothing after the header is lost.
      c.write(v1("192.0.2.7") + "USER alice\r\nPASS pw\r\nSTAT\r\n");
      assert.match((await c.line())!, /^\+OK/);
      assert.match((await c.line())!, /^\+OK/);
      assert.match((await c.line())!, /^\+OK/);
      assert.match((await c.line())!, /^\+OK 1 \d+$/);
      const [id] = server.conn.list();
      const state = server.conn.state(id);
      assert.equal(state.remoteAddress, "192.0.2.7");
      assert.equal(state.remotePort, 40001);
      assert.equal(state.user, "alice");
      const open = events.find((e) => e.type === "open");
      assert.equal(open?.type === "open" && open.remote, "192.0.2.7");
      const login = events.find((e) => e.type === "login");
      assert.equal(login?.type === "login" && login.remote, "192.0.2.7");
    } finally {
      c.close();
      await server.destroy();
    }
  });

  it("proxySocket applies per-address limits to the address from the header", async () => {
    const { server } = setup({ maxConnectionsPerAddress: 1 });
    await server.up();
    const port = server.cget("port") as number;
    const clients: Raw[] = [];
    try {
      const a = await Raw.open(port);
      clients.push(a);
      a.write(v1("198.51.100.1"));
      assert.match((await a.line())!, /^\+OK/);
      a.write("USER alice\r\nPASS pw\r\n");
      assert.match((await a.line())!, /^\+OK/);
      assert.match((await a.line())!, /^\+OK/);
      const b = await Raw.open(port);
      clients.push(b);
      b.write(v1("198.51.100.2"));
      assert.match((await b.line())!, /^\+OK/);
      // 198.51.100.1's one connection is logged in, so it is not evicted:
      // the new one from that address is refused; b (another address) is
      // not counted against it.
      const c = await Raw.open(port);
      clients.push(c);
      c.write(v1("198.51.100.1"));
      assert.equal(
        await c.line(),
        "-ERR [SYS/TEMP] Too many connections from your address",
      );
      // A second connection from 198.51.100.2 (not logged in) evicts b.
      const d = await Raw.open(port);
      clients.push(d);
      d.write(v1("198.51.100.2"));
      assert.match((await d.line())!, /^\+OK/);
      assert.equal(await b.line(), null);
    } finally {
      for (const c of clients) c.close();
      await server.destroy();
    }
  });

  it("proxySocket reads a v2 IPv6 header split across writes for Lmtpd", async () => {
    const storage = new MemoryStorage();
    const remotes: string[] = [];
    const lmtp = new Lmtpd({
      port: 0,
      auth: new MemoryAuth().addUser("alice", "pw"),
      storage,
      onEvent: (e) => e.type === "delivery" && remotes.push(e.remote),
      socket: proxySocket(defaultSocket, { trusted: ["127.0.0.1"] }),
    });
    await lmtp.up();
    const c = await Raw.open(lmtp.port);
    try {
      const header = v2v6();
      c.write(header.subarray(0, 7));
      await new Promise((r) => setTimeout(r, 50));
      c.write(header.subarray(7, 20));
      await new Promise((r) => setTimeout(r, 50));
      c.write(
        Uint8Array.from([
          ...header.subarray(20),
          ...te.encode("LHLO proxy\r\nMAIL FROM:<>\r\nRCPT TO:<alice@x>\r\n"),
        ]),
      );
      assert.match((await c.line())!, /^220 /);
      for (let i = 0; i < 7; i++) await c.line();
      const [id] = lmtp.conn.list();
      const state = lmtp.conn.state(id);
      assert.equal(state.remoteAddress, "2001:db8::42");
      assert.equal(state.remotePort, 60000);
      c.write("DATA\r\nhello\r\n.\r\nQUIT\r\n");
      assert.equal(
        await c.line(),
        "354 Start mail input; end with <CRLF>.<CRLF>",
      );
      assert.equal(await c.line(), "250 2.0.0 <alice@x> Delivered");
      assert.deepEqual(remotes, ["2001:db8::42"]);
    } finally {
      c.close();
      await lmtp.destroy();
    }
  });

  it("proxySocket keeps the proxy's address for a v2 LOCAL header (health checks)", async () => {
    const { server } = setup();
    await server.up();
    const c = await Raw.open(server.cget("port") as number);
    try {
      c.write(Uint8Array.from([...PROXY_V2_SIGNATURE, 0x20, 0x00, 0, 0]));
      assert.match((await c.line())!, /^\+OK/);
      const [id] = server.conn.list();
      assert.equal(server.conn.state(id).remoteAddress, "127.0.0.1");
    } finally {
      c.close();
      await server.destroy();
    }
  });

  it("proxySocket closes a connection from an untrusted address and reports it", async () => {
    const { server, errors } = setup({ trusted: ["10.0.0.0/8", "::1/128"] });
    await server.up();
    const c = await Raw.open(server.cget("port") as number);
    try {
      c.write(v1("192.0.2.7"));
      assert.equal(await c.line(), null);
      assert.equal(errors.length, 1);
      assert.match(
        errors[0].message,
        /^Closed connection from 127\.0\.0\.1: not a trusted proxy address$/,
      );
      assert.deepEqual(server.conn.list(), []);
    } finally {
      c.close();
      await server.destroy();
    }
  });

  it("proxySocket closes a trusted connection without a header and reports it", async () => {
    const { server, errors, events } = setup();
    await server.up();
    const c = await Raw.open(server.cget("port") as number);
    try {
      c.write("USER alice\r\n");
      assert.equal(await c.line(), null);
      assert.match(
        errors[0].message,
        /^Closed connection from 127\.0\.0\.1: Invalid PROXY header: starts with "USER alice\.\."$/,
      );
      assert.equal(events.length, 0); // the server never saw it
    } finally {
      c.close();
      await server.destroy();
    }
  });

  it("proxySocket closes a connection whose header does not come in time", async () => {
    const { server, errors } = setup({ timeout: 150 });
    await server.up();
    const c = await Raw.open(server.cget("port") as number);
    try {
      c.write("PROXY TCP4 ");
      assert.equal(await c.line(), null);
      assert.match(errors[0].message, /no PROXY header within 150 ms/);
    } finally {
      c.close();
      await server.destroy();
    }
  });

  it("proxySocket closes a connection that has no address left (gone before accept on Bun and Node) without failing", async () => {
    const listener = memoryListener();
    const errors: unknown[] = [];
    const server = new Pop3d({
      socket: proxySocket(() => listener, {
        trusted: ["127.0.0.1"],
        onError: (e) => errors.push(e),
      }),
    });
    await server.up();
    try {
      // Bun gives such a socket no hostname, Node an empty one.
      for (const hostname of [undefined as unknown as string, ""]) {
        const gone = listener.connect({ hostname, port: 0 });
        const reader = gone.readable.getReader();
        assert.equal((await reader.read()).done, true);
      }
      // A good connection after it is served as usual.
      const good = listener.connect({ hostname: "127.0.0.1", port: 1 });
      const writer = good.writable.getWriter();
      const goodReader = good.readable.getReader();
      const [first] = await Promise.all([
        goodReader.read(),
        writer.write(te.encode(v1("192.0.2.9"))),
      ]);
      assert.match(new TextDecoder().decode(first.value), /^\+OK/);
      assert.deepEqual(errors, []);
      good.close();
    } finally {
      await server.destroy();
    }
  });

  it("proxySocket refuses bad options", () => {
    assert.throws(
      () => proxySocket(defaultSocket, { trusted: ["not-an-ip"] }),
      TypeError,
    );
    assert.throws(
      () => proxySocket(defaultSocket, { trusted: ["::1/129"] }),
      RangeError,
    );
    assert.throws(
      () => proxySocket(defaultSocket, { trusted: [], timeout: 0 }),
      RangeError,
    );
    assert.throws(
      () => proxySocket(defaultSocket, {} as never),
      /trusted/,
    );
  });
});
