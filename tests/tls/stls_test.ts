/**
 * STLS (RFC 2595) on the host runtime's default socket, tested with real
 * clients over real TLS: openssl s_client -starttls pop3, python3
 * poplib.stls() and a raw python client, curl --ssl-reqd.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import type { Pop3dOptions } from "../../src/server/options.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import type { ConnectionState } from "../../src/session/connection_state.ts";
import type { Pop3dEvent } from "../../src/session/events.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import {
  clientsAvailable,
  makeCert,
  python,
  run,
  RUNTIME,
  type TestCert,
} from "../_helpers/tls.ts";
import {
  bigMessage,
  latin1,
  MESSAGE,
  POPLIB_RETR,
  RAW_CLIENT,
  utf8,
} from "../_helpers/tls_fixture.ts";

/** Whether the host's default socket offers `startTls` when given `tls`. */
async function stlsSupported(): Promise<string | undefined> {
  const cert = await makeCert();
  try {
    const listener = await defaultSocket({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: cert.cert, key: cert.key },
    });
    const client = connect(listener.addr.port, "127.0.0.1");
    client.on("error", () => {});
    const iterator = listener[Symbol.asyncIterator]();
    const { value: conn } = await iterator.next();
    const supported = typeof conn?.startTls === "function";
    conn?.close();
    client.destroy();
    await listener.close();
    return supported ? undefined : "its connections have no startTls";
  } catch (error) {
    return (error as Error).message;
  } finally {
    await cert.remove();
  }
}

const missing = !(await clientsAvailable())
  ? "openssl, python3 and curl are needed"
  : await stlsSupported();
if (missing) {
  console.log(`skipping STLS tests on ${RUNTIME}: ${missing}`);
}

async function serve(
  cert: TestCert,
  options: Pop3dOptions<string> = {},
): Promise<{ server: Pop3d<string>; port: number; logins: ConnectionState[] }> {
  const storage = new MemoryStorage();
  storage.deliver("alice", MESSAGE);
  storage.deliver("alice", bigMessage());
  const logins: ConnectionState[] = [];
  const server: Pop3d<string> = new Pop3d({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: utf8(cert.cert), key: cert.key },
    auth: new MemoryAuth().addUser("alice", "secret"),
    storage,
    authFailureDelay: 0,
    authPenalty: false,
    onEvent: (event) => {
      if (event.type === "login") logins.push(server.conn.state(event.id));
    },
    ...options,
  });
  await server.up();
  return { server, port: server.cget("port") as number, logins };
}

function raw(
  port: number,
  cert: TestCert,
  steps: unknown[],
): Promise<string[]> {
  return python(RAW_CLIENT, [
    String(port),
    cert.certFile,
    JSON.stringify(steps),
  ]) as Promise<
    string[]
  >;
}

(missing ? describe.skip : describe)(`STLS on ${RUNTIME}`, () => {
  let cert: TestCert;
  let server: Pop3d<string>;
  let port: number;
  let logins: ConnectionState[];

  before(async () => {
    cert = await makeCert();
    ({ server, port, logins } = await serve(cert));
  });

  after(async () => {
    await server.destroy();
    await cert.remove();
  });

  it("openssl s_client -starttls pop3 downloads a dot-stuffed message byte-exact", async () => {
    const result = await run("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-starttls",
      "pop3",
      "-quiet",
      "-crlf",
      "-CAfile",
      cert.certFile,
      "-verify_return_error",
    ], "CAPA\nUSER alice\nPASS secret\nRETR 1\nQUIT\n"); // deno-fmt-ignore
    const text = latin1(result.stdout);
    const capa = text.slice(
      text.indexOf("+OK Capability"),
      text.indexOf("\r\n.\r\n"),
    );
    assert.match(capa, /\r\nUSER\r\n/);
    assert.doesNotMatch(capa, /STLS/, "STLS is not offered again inside TLS");
    const stuffed = latin1(utf8(MESSAGE)).replaceAll("\r\n.", "\r\n..");
    const octets = utf8(MESSAGE).length;
    assert.ok(
      text.includes(`+OK ${octets} octets\r\n${stuffed}.\r\n+OK Bye\r\n`),
      text,
    );
  });

  it("python poplib stls() sees STLS only before TLS and retrieves byte-exact", async () => {
    const got = await python(POPLIB_RETR, [
      String(port),
      cert.certFile,
      "stls",
      "1,2",
    ]) as {
      before: Record<string, string[]>;
      capa: Record<string, string[]>;
      messages: string[];
    };
    assert.ok("STLS" in got.before);
    assert.ok(!("STLS" in got.capa));
    assert.equal(atob(got.messages[0]), latin1(utf8(MESSAGE)));
    assert.equal(atob(got.messages[1]), bigMessage());
    const state = logins.at(-1)!;
    assert.equal(state.encrypted, true, "conn.state(id).encrypted after STLS");
    assert.equal(state.user, "alice");
  });

  it("curl --ssl-reqd pop3:// upgrades with STLS and downloads byte-exact", async () => {
    for (const [n, expected] of [[1, MESSAGE], [2, bigMessage()]] as const) {
      const result = await run("curl", [
        "-sS",
        "--ssl-reqd",
        "--cacert",
        cert.certFile,
        `pop3://alice:secret@127.0.0.1:${port}/${n}`,
      ]); // deno-fmt-ignore
      assert.equal(result.code, 0, result.stderr);
      assert.equal(latin1(result.stdout), latin1(utf8(expected)));
    }
    assert.equal(logins.at(-1)!.encrypted, true);
  });

  it("STLS command injection: USER pipelined after STLS is never executed", async () => {
    // CVE-2011-0411 class: "USER alice" rides in the same write as STLS. If
    // the server ran it after the handshake, PASS alone would log in.
    const before = logins.length;
    const got = await raw(port, cert, [
      ["line"],
      ["send", "STLS\r\nUSER alice\r\n"],
      ["line"],
      ["tls"],
      ["send", "PASS secret\r\n"],
      ["line"],
      ["send", "CAPA\r\n"],
      ["multi"],
      ["send", "QUIT\r\n"],
      ["line"],
    ]);
    assert.match(got[1], /^\+OK /);
    assert.match(got[2], /^tls:TLSv1\.[23]$/);
    assert.match(got[3], /^-ERR /, `PASS after TLS must fail: ${got[3]}`);
    assert.doesNotMatch(got[4], /STLS/);
    assert.equal(got[5], "+OK Bye\r\n");
    assert.equal(logins.length, before, "nobody logged in");
  });

  it("plaintext sent after the STLS +OK is not executed; the handshake fails", async () => {
    const got = await raw(port, cert, [
      ["line"],
      ["send", "STLS\r\n"],
      ["line"],
      ["send", "USER alice\r\nPASS secret\r\n"],
      ["eof"],
    ]);
    assert.match(got[1], /^\+OK /);
    assert.doesNotMatch(
      got[2],
      /\+OK|-ERR/,
      `no POP3 reply in the clear: ${got[2]}`,
    );
  });

  it("STLS twice is refused inside TLS", async () => {
    const got = await raw(port, cert, [
      ["line"],
      ["send", "STLS\r\n"],
      ["line"],
      ["tls"],
      ["send", "STLS\r\n"],
      ["line"],
      ["send", "QUIT\r\n"],
      ["line"],
    ]); // deno-fmt-ignore
    assert.match(got[3], /^-ERR /);
    assert.equal(got[4], "+OK Bye\r\n");
  });
});

(missing ? describe.skip : describe)(
  `STLS handshake deadline on ${RUNTIME}`,
  () => {
    it("a client that sends STLS and then nothing is cut off at the login timeout", async () => {
      const cert = await makeCert();
      const errors: unknown[] = [];
      const { server, port } = await serve(cert, {
        loginTimeout: 300,
        onError: (error) => errors.push(error),
      });
      try {
        const started = Date.now();
        const got = await raw(port, cert, [
          ["line"],
          ["send", "STLS\r\n"],
          ["line"],
          ["eof"],
        ]); // deno-fmt-ignore
        const elapsed = Date.now() - started;
        assert.match(got[1], /^\+OK /);
        assert.equal(got[2], "", "closed without a byte");
        assert.ok(elapsed < 4000, `closed after ${elapsed} ms`);
        assert.deepEqual(server.conn.list(), []);
        assert.deepEqual(errors, [], "a timeout is not a server error");
      } finally {
        await server.destroy();
        await cert.remove();
      }
    });
  },
);

(missing ? describe.skip : describe)(
  `STLS handshake failure on ${RUNTIME}`,
  () => {
    it("STLS garbage handshake: a client that answers +OK with plaintext is not reported as a server fault", async () => {
      const cert = await makeCert();
      const errors: unknown[] = [];
      const events: Pop3dEvent[] = [];
      const { server, port } = await serve(cert, {
        onError: (error) => errors.push(error),
        onEvent: (event) => events.push(event),
      });
      try {
        const got = await raw(port, cert, [
          ["line"],
          ["send", "STLS\r\n"],
          ["line"],
          ["send", "this is not a TLS ClientHello\r\n".repeat(8)],
          ["eof"],
        ]);
        assert.match(got[1], /^\+OK /);
        const t0 = Date.now();
        while (!events.some((e) => e.type === "close")) {
          assert.ok(Date.now() - t0 < 5000, "no close event");
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.deepEqual(
          errors,
          [],
          "a client's bad handshake is no server error",
        );
        const close = events.find((e) => e.type === "close");
        assert.equal(close?.type === "close" && close.reason, "client");
        assert.ok(events.some((e) => e.type === "tls-failed"));
      } finally {
        await server.destroy();
        await cert.remove();
      }
    });
  },
);

(missing ? describe.skip : describe)(
  `plaintextAuth "tls" on ${RUNTIME}`,
  () => {
    let cert: TestCert;
    let server: Pop3d<string>;
    let port: number;
    let logins: ConnectionState[];

    before(async () => {
      cert = await makeCert();
      ({ server, port, logins } = await serve(cert, { plaintextAuth: "tls" }));
    });

    after(async () => {
      await server.destroy();
      await cert.remove();
    });

    it("refuses USER and PLAIN on loopback before TLS and allows them after", async () => {
      const plain = btoa("\0alice\0secret");
      const got = await raw(port, cert, [
        ["line"],
        ["send", "CAPA\r\n"],
        ["multi"],
        ["send", "USER alice\r\n"],
        ["line"],
        ["send", `AUTH PLAIN ${plain}\r\n`],
        ["line"],
        ["send", "AUTH\r\n"],
        ["multi"],
        ["send", "STLS\r\n"],
        ["line"],
        ["tls"],
        ["send", "CAPA\r\n"],
        ["multi"],
        ["send", "USER alice\r\n"],
        ["line"],
        ["send", "PASS secret\r\n"],
        ["line"],
        ["send", "QUIT\r\n"],
        ["line"],
      ]); // deno-fmt-ignore
      const [, capaBefore, user, authPlain, authList, stls, tls, capaAfter, user2, pass] = got;
      assert.match(capaBefore, /\r\nSTLS\r\n/);
      assert.doesNotMatch(capaBefore, /\r\nUSER\r\n/);
      assert.match(capaBefore, /\r\nSASL SCRAM-SHA-256 CRAM-MD5\r\n/);
      assert.match(user, /^-ERR \[AUTH\] /);
      assert.match(authPlain, /^-ERR \[AUTH\] /);
      assert.doesNotMatch(authList, /PLAIN|LOGIN/);
      assert.match(stls, /^\+OK /);
      assert.match(tls, /^tls:/);
      assert.doesNotMatch(capaAfter, /STLS/);
      assert.match(capaAfter, /\r\nUSER\r\n/);
      assert.match(capaAfter, /\r\nSASL [^\r]*PLAIN LOGIN\r\n/);
      assert.equal(user2, "+OK\r\n");
      assert.match(pass, /^\+OK alice has 2 messages/);
      assert.equal(logins.at(-1)!.encrypted, true);
      assert.equal(logins.at(-1)!.method, "USER");
    });

    it("SASL PLAIN works inside TLS under the tls policy", async () => {
      const got = await raw(port, cert, [
        ["line"],
        ["send", "STLS\r\n"],
        ["line"],
        ["tls"],
        ["send", `AUTH PLAIN ${btoa("\0alice\0secret")}\r\n`],
        ["line"],
        ["send", "QUIT\r\n"],
        ["line"],
      ]); // deno-fmt-ignore
      assert.match(got[3], /^\+OK alice has 2 messages/);
      assert.equal(logins.at(-1)!.method, "SASL PLAIN");
    });
  },
);
