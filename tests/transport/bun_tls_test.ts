/**
 * TLS with Bun's own `socket.upgradeTLS` (POP3S through `tlsSocket`, STLS
 * through the default socket), over real sockets on 127.0.0.1. Every test
 * runs on all three runtimes (Deno and Node go through `node:tls`, and the
 * behaviour must be the same); on Bun each one also checks that the
 * sockets were upgraded by Bun's TLS and not by `node:tls`.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import process from "node:process";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import type { Pop3dOptions } from "../../src/server/options.ts";
import type { Pop3dEvent } from "../../src/server/events.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { hasNativeTls } from "../../src/transport/bun.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import { directIo } from "../../src/transport/_direct.ts";
import { proxySocket } from "../../src/transport/proxy_socket.ts";
import { eventually } from "../_helpers/fixture.ts";
import { replaceTlsCredentials } from "../../src/transport/replace_tls_credentials.ts";
import { tlsSocket } from "../../src/transport/tls_socket.ts";
import type {
  Conn,
  SocketFactory,
  TlsOptions,
} from "../../src/transport/types.ts";
import {
  clientsAvailable,
  Interactive,
  makeCert,
  python,
  RUNTIME,
  type TestCert,
} from "../_helpers/tls.ts";
import {
  latin1,
  MESSAGE,
  POPLIB_RETR,
  RAW_CLIENT,
  utf8,
} from "../_helpers/tls_fixture.ts";

const CLIENTS = await clientsAvailable();
const NATIVE = RUNTIME === "bun";

type Step = [string, string?];

/** Runs RAW_CLIENT against `port`, trusting the certificates in `caFile`. */
function raw(port: number, caFile: string, steps: Step[]): Promise<string[]> {
  return python(RAW_CLIENT, [
    String(port),
    caFile,
    JSON.stringify(steps),
  ]) as Promise<string[]>;
}

/** The SHA-256 of a PEM certificate's DER, as RAW_CLIENT's `["cert"]` gives it. */
function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replaceAll(":", "")
    .toLowerCase();
}

/** What {@linkcode spyBunTls} saw. */
interface Spy {
  /** Calls of `upgradeTLS` on accepted sockets. */
  upgrades: number;
  /** The `data` of each: what the TLS socket's handlers feed. */
  fed: Set<unknown>;
  restore(): void;
}

/**
 * Watches the sockets that Bun's TLS takes over: wraps `Bun.listen` so that
 * every accepted socket's `upgradeTLS` is recorded (Bun only). Bun's
 * `node:tls` calls it too, so for POP3S the test also checks that the conn
 * the server got is the one the TLS socket feeds.
 */
function spyBunTls(): Spy {
  const spy: Spy = { upgrades: 0, fed: new Set(), restore() {} };
  if (!NATIVE) return spy;
  type Handlers = { open?(socket: Record<string, unknown>): void };
  const bun = (globalThis as unknown as {
    Bun: { listen(options: { socket: Handlers }): unknown };
  }).Bun;
  const listen = bun.listen;
  bun.listen = function (options) {
    const open = options.socket.open;
    const socket: Handlers = {
      ...options.socket,
      open(s) {
        const upgrade = s.upgradeTLS as (...args: unknown[]) => unknown;
        s.upgradeTLS = function (this: unknown, ...args: unknown[]) {
          spy.upgrades++;
          spy.fed.add((args[0] as { data?: unknown }).data);
          return upgrade.apply(this, args);
        };
        open?.call(this, s);
      },
    };
    return listen.call(bun, { ...options, socket });
  };
  spy.restore = () => bun.listen = listen;
  return spy;
}

/** Wraps `factory` to record every conn it yields into `conns`. */
function recorded(factory: SocketFactory, conns: Conn[]): SocketFactory {
  return async (options) => {
    const inner = await factory(options);
    return {
      get addr() {
        return inner.addr;
      },
      close: () => inner.close(),
      async *[Symbol.asyncIterator]() {
        for await (const conn of inner) {
          conns.push(conn);
          yield conn;
        }
      },
    };
  };
}

/**
 * On Bun: `n` sockets were upgraded by Bun's TLS, and each of `conns` (the
 * POP3S conns the server got) is fed by one of them, not by `node:tls`.
 */
function assertBunTls(spy: Spy, n: number, conns?: Conn[]): void {
  if (!NATIVE) return;
  assert.equal(spy.upgrades, n, "sockets upgraded with upgradeTLS");
  if (!conns) return;
  assert.equal(conns.length, n);
  for (const conn of conns) {
    assert.ok(spy.fed.has(conn), "the conn is fed by Bun's TLS socket");
  }
}

/** Resolves when `socket` closes, with the milliseconds since `started`. */
function closed(socket: Socket, started: number): Promise<number> {
  return new Promise((resolve) => {
    socket.on("error", () => {});
    socket.on("close", () => resolve(Date.now() - started));
    socket.resume(); // a TLS alert must not hold "close" back
  });
}

(CLIENTS ? describe : describe.skip)(`Bun's TLS (on ${RUNTIME})`, () => {
  let cert: TestCert;
  let other: TestCert;
  let bothCas: string;
  let crashes: unknown[];
  const onCrash = (error: unknown) => crashes.push(error);

  before(async () => {
    cert = await makeCert();
    other = await makeCert();
    bothCas = join(cert.dir, "both.pem");
    await writeFile(bothCas, cert.cert + other.cert);
    crashes = [];
    process.on("uncaughtException", onCrash);
  });

  after(async () => {
    process.off("uncaughtException", onCrash);
    assert.deepEqual(crashes, [], "no handshake crashed the process");
    await cert.remove();
    await other.remove();
  });

  async function serve(
    socket: SocketFactory | undefined,
    extra: Partial<Pop3dOptions<string>> = {},
  ): Promise<{ server: Pop3d<string>; port: number; errors: unknown[] }> {
    const storage = new MemoryStorage();
    storage.deliver("alice", MESSAGE);
    const errors: unknown[] = [];
    const server = new Pop3d<string>({
      hostname: "127.0.0.1",
      port: 0,
      ...(socket ? { socket } : {}),
      auth: new MemoryAuth().addUser("alice", "secret"),
      storage,
      authFailureDelay: 0,
      authPenalty: false,
      onError: (error) => errors.push(error),
      ...extra,
    });
    await server.up();
    return { server, port: server.cget("port") as number, errors };
  }

  it("hasNativeTls is true exactly on Bun 1.4.5 and newer", () => {
    assert.equal(hasNativeTls(), NATIVE);
  });

  it("tlsSocket: POP3S handshake, login and RETR byte-exact through Bun's upgradeTLS", async () => {
    const spy = spyBunTls();
    const events: Pop3dEvent[] = [];
    const conns: Conn[] = [];
    const { server, port, errors } = await serve(
      recorded(tlsSocket({ cert: cert.cert, key: cert.key }), conns),
      { onEvent: (event) => events.push(event) },
    ).finally(() => spy.restore());
    try {
      const got = await python(POPLIB_RETR, [
        String(port),
        cert.certFile,
        "ssl",
        "1",
      ]) as { messages: string[] };
      assert.equal(atob(got.messages[0]), latin1(utf8(MESSAGE)));
      const open = events.find((e) => e.type === "open");
      assert.equal(open?.type === "open" && open.encrypted, true);
      assert.equal(open?.type === "open" && open.remote, "127.0.0.1");
      assert.deepEqual(errors, []);
      assertBunTls(spy, 1, conns);
    } finally {
      await server.destroy();
    }
  });

  it("STLS: the default socket upgrades with Bun's upgradeTLS, the session is encrypted after it", async () => {
    const spy = spyBunTls();
    const { server, port, errors } = await serve(undefined, {
      tls: { cert: cert.cert, key: cert.key },
    }).finally(() => spy.restore());
    const client = new Interactive("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-starttls",
      "pop3",
      "-quiet",
      "-crlf",
      "-CAfile",
      cert.certFile,
    ]); // deno-fmt-ignore
    try {
      client.write("USER alice\nPASS secret\n");
      await client.waitFor(/alice has 1 message/);
      const [id] = server.conn.list();
      assert.equal(server.conn.state(id).encrypted, true);
      client.write("RETR 1\nQUIT\n");
      await client.waitFor(/\+OK Bye/);
      const stuffed = latin1(utf8(MESSAGE)).replaceAll("\r\n.", "\r\n..");
      assert.ok(client.output.includes(stuffed + ".\r\n"), client.output);
      assert.deepEqual(errors, []);
      assertBunTls(spy, 1);
    } finally {
      client.kill();
      await server.destroy();
    }
  });

  it("STLS command injection: plaintext pipelined after STLS is discarded with Bun's TLS", async () => {
    const spy = spyBunTls();
    const { server, port } = await serve(undefined, {
      tls: { cert: cert.cert, key: cert.key },
    }).finally(() => spy.restore());
    try {
      const got = await raw(port, cert.certFile, [
        ["line"],
        ["send", "STLS\r\nUSER alice\r\n"],
        ["line"],
        ["tls"],
        ["send", "PASS secret\r\n"],
        ["line"],
        ["send", "USER alice\r\nPASS secret\r\n"],
        ["line"],
        ["line"],
      ]); // deno-fmt-ignore
      assert.match(got[1], /^\+OK /, "STLS accepted");
      assert.equal(got[2], "tls:TLSv1.3");
      assert.match(got[3], /^-ERR/, "the USER sent in plaintext was dropped");
      assert.match(got[4], /^\+OK/);
      assert.match(got[5], /^\+OK .*1 message/);
      assertBunTls(spy, 1);
    } finally {
      await server.destroy();
    }
  });

  it("STLS: a client that leaves right after STLS ends its session without an error", async () => {
    const spy = spyBunTls();
    const { server, port, errors } = await serve(undefined, {
      tls: { cert: cert.cert, key: cert.key },
      // node:tls on Node notices the close only at a deadline.
      loginTimeout: 1000,
    }).finally(() => spy.restore());
    try {
      for (let i = 0; i < 5; i++) {
        const client = connect(port, "127.0.0.1");
        client.on("error", () => {});
        await new Promise((resolve) => client.once("data", resolve));
        client.write("STLS\r\n", () => client.destroy());
      }
      await eventually(
        () => server.conn.list().length === 0,
        "sessions end",
        NATIVE ? 500 : 3000,
      );
      assert.deepEqual(errors, []);
    } finally {
      await server.destroy();
    }
  });

  it("tlsSocket.reload and replaceTlsCredentials: new connections get the new certificate, open sessions keep theirs", async () => {
    const spy = spyBunTls();
    const tls: TlsOptions = { cert: cert.cert, key: cert.key };
    const pop3s = tlsSocket({ cert: cert.cert, key: cert.key });
    const conns: Conn[] = [];
    const implicit = await serve(recorded(pop3s, conns)).finally(() =>
      spy.restore()
    );
    const stls = await serve(undefined, { tls });
    const before = new Interactive("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${implicit.port}`,
      "-quiet",
      "-crlf",
      "-CAfile",
      cert.certFile,
    ]); // deno-fmt-ignore
    try {
      await before.waitFor(/^\+OK /);
      const tlsFirst = await raw(implicit.port, bothCas, [["tls"], ["cert"]]);
      assert.equal(tlsFirst[1], fingerprint(cert.cert));
      pop3s.reload({ cert: other.cert, key: other.key });
      replaceTlsCredentials(tls, { cert: other.cert, key: other.key });
      const tlsNext = await raw(implicit.port, bothCas, [["tls"], ["cert"]]);
      assert.equal(tlsNext[1], fingerprint(other.cert), "POP3S");
      const stlsNext = await raw(stls.port, bothCas, [
        ["line"],
        ["send", "STLS\r\n"],
        ["line"],
        ["tls"],
        ["cert"],
      ]);
      assert.equal(stlsNext[3], fingerprint(other.cert), "STLS");
      // The session that shook hands before the swap goes on.
      before.write("USER alice\nPASS secret\nQUIT\n");
      await before.waitFor(/\+OK Bye/);
      assert.throws(() => pop3s.reload({ cert: other.cert, key: cert.key }));
      const still = await raw(implicit.port, bothCas, [["tls"], ["cert"]]);
      assert.equal(still[1], fingerprint(other.cert), "a bad reload changes nothing");
      assertBunTls(spy, 4, conns);
    } finally {
      before.kill();
      await implicit.server.destroy();
      await stls.server.destroy();
    }
  });

  it("tlsSocket handshakeTimeout drops a silent client and one that stops mid-handshake", async () => {
    const spy = spyBunTls();
    const conns: Conn[] = [];
    const { server, port, errors } = await serve(
      recorded(
        tlsSocket({ cert: cert.cert, key: cert.key, handshakeTimeout: 300 }),
        conns,
      ),
    ).finally(() => spy.restore());
    try {
      const started = Date.now();
      const silent = connect(port, "127.0.0.1");
      const partial = connect(port, "127.0.0.1", () => {
        // The first bytes of a ClientHello record, and then nothing.
        partial.write(new Uint8Array([22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3]));
      });
      const times = await Promise.all([
        closed(silent, started),
        closed(partial, started),
      ]);
      for (const elapsed of times) {
        assert.ok(
          elapsed >= 250 && elapsed < 3000,
          `closed after ${elapsed} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(server.conn.list(), []);
      assert.deepEqual(errors, [], "a client's timeout is no server error");
      assertBunTls(spy, 2, conns);
    } finally {
      await server.destroy();
    }
  });

  it("tlsSocket: a failed handshake (plaintext, garbage) closes only that connection", async () => {
    const spy = spyBunTls();
    const conns: Conn[] = [];
    const { server, port, errors } = await serve(
      recorded(tlsSocket({ cert: cert.cert, key: cert.key }), conns),
    ).finally(() => spy.restore());
    try {
      const started = Date.now();
      const plain = connect(port, "127.0.0.1", () => plain.write("USER x\r\n"));
      await closed(plain, started);
      const good = await raw(port, cert.certFile, [["tls"], ["line"]]);
      assert.match(good[1], /^\+OK /);
      assert.deepEqual(errors, []);
      assertBunTls(spy, 2, conns);
    } finally {
      await server.destroy();
    }
  });

  it("tlsSocket conn: addresses, encrypted, and (Bun) a write that waits until the client reads", async () => {
    const spy = spyBunTls();
    const listener = await Promise.resolve(
      tlsSocket({ cert: cert.cert, key: cert.key })({
        hostname: "127.0.0.1",
        port: 0,
      }),
    ).finally(() => spy.restore());
    const client = tlsConnect({
      host: "127.0.0.1",
      port: listener.addr.port,
      rejectUnauthorized: false,
    });
    client.on("error", () => {});
    try {
      const iterator = listener[Symbol.asyncIterator]();
      const conn = (await iterator.next()).value!;
      await new Promise((resolve) => client.once("secureConnect", resolve));
      client.pause();
      assert.equal(conn.encrypted, true);
      assert.equal(conn.remoteAddr.hostname, "127.0.0.1");
      assert.equal(conn.remoteAddr.port, client.localPort);
      assert.equal(conn.localAddr.port, listener.addr.port);
      const io = directIo(conn)!;
      const size = 32 << 20;
      let written = false;
      const write = Promise.resolve(io.write(new Uint8Array(size))).then(
        () => written = true,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      // node:tls (Deno, Node) takes the bytes into its own buffer.
      if (NATIVE) assert.equal(written, false, "the client read nothing yet");
      let received = 0;
      client.on("data", (chunk: Uint8Array) => received += chunk.length);
      client.resume();
      await write;
      conn.close();
      await new Promise((resolve) => client.once("close", resolve));
      assert.equal(received, size);
      assertBunTls(spy, 1, [conn]);
    } finally {
      client.destroy();
      await listener.close();
    }
  });

  it("tlsSocket with reusePort: two listeners share the POP3S port", async () => {
    const factory = tlsSocket({ cert: cert.cert, key: cert.key });
    const first = await factory({
      hostname: "127.0.0.1",
      port: 0,
      reusePort: true,
    });
    try {
      const second = await factory({
        hostname: "127.0.0.1",
        port: first.addr.port,
        reusePort: true,
      });
      assert.equal(second.addr.port, first.addr.port);
      await second.close();
    } finally {
      await first.close();
    }
  });

  it("proxySocket around tlsSocket: the PROXY header inside TLS gives the client's address", async () => {
    const spy = spyBunTls();
    const events: Pop3dEvent[] = [];
    const conns: Conn[] = [];
    const { server, port } = await serve(
      proxySocket(
        recorded(tlsSocket({ cert: cert.cert, key: cert.key }), conns),
        { trusted: ["127.0.0.1/32"] },
      ),
      { onEvent: (event) => events.push(event) },
    ).finally(() => spy.restore());
    try {
      const got = await raw(port, cert.certFile, [
        ["tls"],
        ["send", "PROXY TCP4 192.0.2.7 127.0.0.1 40001 995\r\nUSER alice\r\n"],
        ["line"],
        ["line"],
        ["send", "QUIT\r\n"],
        ["line"],
      ]); // deno-fmt-ignore
      assert.match(got[1], /^\+OK /);
      assert.match(got[2], /^\+OK/, "USER, sent with the header");
      const open = events.find((e) => e.type === "open");
      assert.equal(open?.type === "open" && open.remote, "192.0.2.7");
      assert.equal(open?.type === "open" && open.encrypted, true);
      assertBunTls(spy, 1, conns);
    } finally {
      await server.destroy();
    }
  });

  it("proxySocket around the default socket: STLS after the PROXY header uses Bun's TLS", async () => {
    const spy = spyBunTls();
    const events: Pop3dEvent[] = [];
    const { server, port } = await serve(
      proxySocket(defaultSocket, { trusted: ["127.0.0.1/32"] }),
      {
        tls: { cert: cert.cert, key: cert.key },
        onEvent: (event) => events.push(event),
      },
    ).finally(() => spy.restore());
    try {
      const got = await raw(port, cert.certFile, [
        ["send", "PROXY TCP4 192.0.2.8 127.0.0.1 40002 110\r\n"],
        ["line"],
        ["send", "STLS\r\n"],
        ["line"],
        ["tls"],
        ["send", "USER alice\r\nPASS secret\r\nQUIT\r\n"],
        ["line"],
        ["line"],
        ["line"],
      ]); // deno-fmt-ignore
      assert.equal(got[2], "tls:TLSv1.3");
      assert.match(got[4], /^\+OK .*1 message/);
      const login = events.find((e) => e.type === "login");
      assert.equal(login?.type === "login" && login.remote, "192.0.2.8");
      assertBunTls(spy, 1);
    } finally {
      await server.destroy();
    }
  });
});
