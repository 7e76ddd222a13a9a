/**
 * The `groups` TLS setting: which key exchange groups a server accepts, in
 * what order. A hand-built ClientHello that lists X25519MLKEM768, X25519
 * and P-256 but sends only an X25519 key share shows the group the server
 * picks and whether it first asks for another share (HelloRetryRequest),
 * for POP3S (`tlsSocket`), STLS (`Pop3d`'s `tls`), a reload, and the
 * program's `--tls-groups`. Deno's `node:tls` cannot be told the groups:
 * there the setting is refused with a `TypeError` naming it.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { tlsSocket } from "../../src/transport/tls_socket.ts";
import { replaceTlsCredentials } from "../../src/transport/replace_tls_credentials.ts";
import type { TlsOptions } from "../../src/transport/types.ts";
import {
  available,
  makeCert,
  RUNTIME,
  type TestCert,
} from "../_helpers/tls.ts";
import { GROUP, helloAnswer } from "../_helpers/tls_hello.ts";
import {
  makeSite,
  Program,
  runProgram,
  type Site,
  tlsArgs,
} from "../_helpers/cli_program.ts";

const OPENSSL = await available("openssl", ["version"]);
const OFFER = [GROUP.X25519MLKEM768, GROUP.X25519, GROUP.P256];
const chooses = RUNTIME !== "deno";

(OPENSSL ? describe : describe.skip)("TLS groups", () => {
  let cert: TestCert;
  before(async () => {
    cert = await makeCert();
  });
  after(async () => {
    await cert.remove();
  });

  /** A POP3S server and a plain one offering STLS, both with `tls`. */
  async function servers(
    tls: TlsOptions,
  ): Promise<{ pop3s: number; stls: number; destroy(): Promise<void> }> {
    const common = {
      hostname: "127.0.0.1",
      port: 0,
      auth: new MemoryAuth().addUser("alice", "secret"),
      storage: new MemoryStorage(),
    };
    const implicit = new Pop3d({ ...common, socket: tlsSocket(tls) });
    const plain = new Pop3d({ ...common, tls });
    await implicit.up();
    await plain.up();
    return {
      pop3s: implicit.cget("port") as number,
      stls: plain.cget("port") as number,
      async destroy() {
        await implicit.destroy("kill");
        await plain.destroy("kill");
      },
    };
  }

  it("a malformed list is a TypeError naming groups, on every runtime", () => {
    for (const groups of ["", "X25519 P-256", "X25519;P-256", 25519]) {
      assert.throws(
        () =>
          tlsSocket({ cert: cert.cert, key: cert.key, groups } as TlsOptions),
        (e: Error) => e instanceof TypeError && /"groups"/.test(e.message),
        String(groups),
      );
    }
    assert.throws(
      () =>
        new Pop3d({
          tls: { cert: cert.cert, key: cert.key, groups: 5 },
        } as never),
      (e: Error) => e instanceof TypeError && /tls\.groups/.test(e.message),
    );
  });

  it(
    "Deno refuses any list: its TLS would ignore it",
    { skip: chooses && "Deno only" },
    async () => {
      assert.throws(
        () => tlsSocket({ cert: cert.cert, key: cert.key, groups: "X25519" }),
        (e: Error) =>
          e instanceof TypeError && /"groups" cannot be chosen/.test(e.message),
      );
      const pop3d = new Pop3d({
        hostname: "127.0.0.1",
        port: 0,
        tls: { cert: cert.cert, key: cert.key, groups: "X25519" },
      });
      await assert.rejects(pop3d.up(), TypeError);
      await pop3d.destroy("kill");
    },
  );

  it(
    "an unknown group is a TypeError naming it",
    { skip: !chooses && "Deno refuses every list" },
    () => {
      assert.throws(
        () =>
          tlsSocket({ cert: cert.cert, key: cert.key, groups: "X25519:P-999" }),
        (e: Error) =>
          e instanceof TypeError &&
          /does not know: X25519:P-999/.test(e.message),
      );
    },
  );

  it(
    "POP3S and STLS take the groups in the server's order",
    { skip: !chooses && "Deno refuses every list" },
    async () => {
      // P-256 only: the client's X25519 share does not do, so the server
      // asks for a P-256 one. Without the setting it would take X25519.
      const only = await servers({
        cert: cert.cert,
        key: cert.key,
        groups: "P-256",
      });
      try {
        const p256 = { retry: true, group: GROUP.P256 };
        assert.deepEqual(await helloAnswer(only.pop3s, OFFER), p256);
        assert.deepEqual(await helloAnswer(only.stls, OFFER, true), p256);
      } finally {
        await only.destroy();
      }

      // Classical groups, X25519 first: the share sent is taken at once,
      // though the client also knows X25519MLKEM768.
      const classic = {
        cert: cert.cert,
        key: cert.key,
        groups: "X25519:P-256",
      };
      const fast = await servers(classic);
      try {
        const once = { retry: false, group: GROUP.X25519 };
        assert.deepEqual(await helloAnswer(fast.pop3s, OFFER), once);
        assert.deepEqual(await helloAnswer(fast.stls, OFFER, true), once);

        // A credentials swap carries its own groups for new STLS handshakes.
        replaceTlsCredentials(classic, { ...classic, groups: "P-256" });
        assert.deepEqual(await helloAnswer(fast.stls, OFFER, true), {
          retry: true,
          group: GROUP.P256,
        });
      } finally {
        await fast.destroy();
      }
    },
  );

  describe("the program's --tls-groups", () => {
    let site: Site;
    before(async () => {
      site = await makeSite();
    });
    after(async () => {
      await site?.remove();
    });

    it("needs --tls-cert, and a bad list names the setting", async () => {
      const alone = await runProgram([...site.args, "--tls-groups", "P-256"]);
      assert.notEqual(alone.code, 0);
      assert.match(alone.stderr, /--tls-groups needs --tls-cert/);
      const bad = await runProgram([
        ...site.args,
        ...tlsArgs(site),
        "--tls-groups",
        "X25519:P-999",
      ]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /--tls-groups X25519:P-999: /);
    });

    it(
      "serves POP3S and STLS with them, and SIGHUP reloads them",
      { skip: !chooses && "Deno refuses every list" },
      async () => {
        const config = join(site.dir, "groups.conf");
        await writeFile(config, "tls-groups = P-256\n");
        const program = new Program([
          ...site.args,
          ...tlsArgs(site),
          "--config",
          config,
        ]);
        try {
          const ports = await program.ready();
          const p256 = { retry: true, group: GROUP.P256 };
          assert.deepEqual(await helloAnswer(ports.pop3s!, OFFER), p256);
          assert.deepEqual(await helloAnswer(ports.pop3, OFFER, true), p256);

          // SIGHUP reloads them with the certificate.
          await writeFile(config, "tls-groups = X25519:P-256\n");
          const mark = program.records.length;
          program.signal("SIGHUP");
          await program.waitFor((r) => r.event === "reloaded", 20_000, mark);
          const once = { retry: false, group: GROUP.X25519 };
          assert.deepEqual(await helloAnswer(ports.pop3s!, OFFER), once);
          assert.deepEqual(await helloAnswer(ports.pop3, OFFER, true), once);
        } finally {
          await program.stop();
        }
      },
    );
  });
});
