/**
 * Implicit TLS (POP3S) through `tlsSocket`, tested with real clients over
 * real TLS: openssl s_client, python3 poplib.POP3_SSL and curl pop3s://.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import process from "node:process";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { tlsSocket } from "../../src/transport/tls_socket.ts";
import type { Pop3dEvent } from "../../src/server/events.ts";
import {
  clientsAvailable,
  Interactive,
  makeCert,
  python,
  run,
  type TestCert,
} from "../_helpers/tls.ts";
import {
  bigMessage,
  latin1,
  MESSAGE,
  POPLIB_RETR,
  utf8,
} from "../_helpers/tls_fixture.ts";

const CLIENTS = await clientsAvailable();
if (!CLIENTS) {
  console.log("skipping tests/tls: they need openssl, python3 and curl");
}

(CLIENTS ? describe : describe.skip)("tlsSocket (implicit TLS)", () => {
  let cert: TestCert;
  let server: Pop3d<string>;
  let port: number;
  const events: Pop3dEvent[] = [];
  const big = bigMessage();

  before(async () => {
    cert = await makeCert();
    const storage = new MemoryStorage();
    storage.deliver("alice", MESSAGE);
    storage.deliver("alice", big);
    server = new Pop3d({
      hostname: "127.0.0.1",
      port: 0,
      socket: tlsSocket({
        cert: cert.cert,
        key: new TextEncoder().encode(cert.key),
      }),
      tls: { cert: cert.cert, key: cert.key },
      plaintextAuth: "tls",
      auth: new MemoryAuth().addUser("alice", "secret"),
      storage,
      authFailureDelay: 0,
      authPenalty: false,
      onEvent: (event) => events.push(event),
    });
    await server.up();
    port = server.cget("port") as number;
  });

  after(async () => {
    await server.destroy();
    await cert.remove();
  });

  it("tlsSocket rejects missing or non-PEM credentials with a TypeError", () => {
    assert.throws(() => tlsSocket({ cert: "", key: "x" }), TypeError);
    assert.throws(
      () =>
        tlsSocket(
          { cert: 1, key: "x" } as unknown as { cert: string; key: string },
        ),
      TypeError,
    );
    assert.throws(
      () => tlsSocket(null as unknown as { cert: string; key: string }),
      TypeError,
    );
  });

  it("tlsSocket rejects a bad handshakeTimeout with a RangeError", () => {
    for (const handshakeTimeout of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => tlsSocket({ cert: cert.cert, key: cert.key, handshakeTimeout }),
        RangeError,
      );
    }
  });

  it("tlsSocket drops a connection that never starts the handshake", async () => {
    const quick = new Pop3d({
      hostname: "127.0.0.1",
      port: 0,
      socket: tlsSocket({
        cert: cert.cert,
        key: cert.key,
        handshakeTimeout: 300,
      }),
    });
    await quick.up();
    try {
      const started = Date.now();
      const socket = connect(quick.cget("port") as number, "127.0.0.1");
      socket.on("error", () => {});
      await new Promise((resolve) => socket.on("close", resolve));
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 3000, `closed after ${elapsed} ms`);
    } finally {
      await quick.destroy();
    }
  });

  it("tlsSocket fails up() when the key is not a key", async () => {
    const bad = new Pop3d({
      hostname: "127.0.0.1",
      port: 0,
      socket: tlsSocket({
        cert: cert.cert,
        key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      }),
    });
    await assert.rejects(bad.up(), TypeError);
    await bad.destroy();
    const other = await makeCert();
    const mismatched = new Pop3d({
      hostname: "127.0.0.1",
      port: 0,
      socket: tlsSocket({ cert: cert.cert, key: other.key }),
    });
    await assert.rejects(mismatched.up(), /does not belong/);
    await mismatched.destroy();
    await other.remove();
  });

  it("openssl s_client -connect downloads a dot-stuffed message byte-exact", async () => {
    const result = await run("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-quiet",
      "-crlf",
      "-CAfile",
      cert.certFile,
      "-verify_return_error",
    ], "CAPA\nUSER alice\nPASS secret\nRETR 1\nQUIT\n"); // deno-fmt-ignore
    const text = new TextDecoder().decode(result.stdout);
    assert.match(text, /^\+OK /);
    const capa = text.slice(
      text.indexOf("+OK Capability"),
      text.indexOf("\r\n.\r\n"),
    );
    assert.doesNotMatch(capa, /STLS/, "no STLS inside TLS");
    assert.match(capa, /\r\nUSER\r\n/, "USER allowed inside TLS");
    assert.match(capa, /\r\nSASL [^\r]*PLAIN/);
    const raw = latin1(result.stdout);
    const stuffed = latin1(utf8(MESSAGE)).replaceAll("\r\n.", "\r\n..");
    const octets = utf8(MESSAGE).length;
    assert.ok(
      raw.includes(`+OK ${octets} octets\r\n${stuffed}.\r\n+OK Bye\r\n`),
      raw,
    );
  });

  it("python poplib.POP3_SSL verifies the certificate and retrieves byte-exact", async () => {
    const got = await python(POPLIB_RETR, [
      String(port),
      cert.certFile,
      "ssl",
      "1,2",
    ]) as {
      messages: string[];
      capa: Record<string, string[]>;
    };
    assert.equal(atob(got.messages[0]), latin1(utf8(MESSAGE)));
    assert.equal(atob(got.messages[1]), big);
    assert.ok(!("STLS" in got.capa));
  });

  it("curl pop3s:// downloads byte-exact", async () => {
    for (const [n, expected] of [[1, MESSAGE], [2, big]] as const) {
      const result = await run("curl", [
        "-sS",
        "--cacert",
        cert.certFile,
        `pop3s://alice:secret@127.0.0.1:${port}/${n}`,
      ]); // deno-fmt-ignore
      assert.equal(result.code, 0, result.stderr);
      assert.equal(latin1(result.stdout), latin1(utf8(expected)));
    }
  });

  it("conn.state(id).encrypted is true and the open event says so", async () => {
    const client = new Interactive("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-quiet",
      "-crlf",
      "-CAfile",
      cert.certFile,
    ]); // deno-fmt-ignore
    try {
      await client.waitFor(/^\+OK /);
      client.write("USER alice\nPASS secret\n");
      await client.waitFor(/alice has 2 messages/);
      const ids = server.conn.list();
      assert.equal(ids.length, 1);
      const state = server.conn.state(ids[0]);
      assert.equal(state.encrypted, true);
      assert.equal(state.user, "alice");
      const open = events.findLast((e) => e.type === "open");
      assert.equal(open?.type === "open" && open.encrypted, true);
      client.write("QUIT\n");
      await client.exited;
    } finally {
      client.kill();
    }
  });

  it("destroy() while a TLS client idles ends the session cleanly", async () => {
    const errors: unknown[] = [];
    const crashes: unknown[] = [];
    const onCrash = (error: unknown) => crashes.push(error);
    process.on("uncaughtException", onCrash);
    const idle = new Pop3d({
      hostname: "127.0.0.1",
      port: 0,
      socket: tlsSocket({ cert: cert.cert, key: cert.key }),
      onError: (error) => errors.push(error),
    });
    await idle.up();
    const client = new Interactive("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${idle.cget("port")}`,
      "-quiet",
      "-CAfile",
      cert.certFile,
    ]); // deno-fmt-ignore
    try {
      await client.waitFor(/^\+OK /);
      await idle.destroy("kill");
      await client.exited;
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(crashes, []);
      assert.deepEqual(errors, []);
    } finally {
      process.off("uncaughtException", onCrash);
      client.kill();
      await idle.destroy();
    }
  });

  it("a client that speaks plaintext to the TLS port gets no POP3 reply", async () => {
    const result = await run("curl", [
      "-sS",
      "-m",
      "2",
      `pop3://alice:secret@127.0.0.1:${port}/1`,
    ]);
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout.length, 0);
  });
});
