/**
 * The program's LMTP listener (`--lmtp-port`) fed by swaks, and its PROXY
 * protocol mode (`--trusted-proxies`): the client address from the header
 * is what the logs show; a connection without a header is refused.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ALICE_MAIL,
  makeSite,
  Program,
  type Site,
} from "../_helpers/cli_program.ts";
import { tcpConnect } from "../_helpers/net_client.ts";
import { Pop3Client } from "../_helpers/pop3_client.ts";
import { available, run } from "../_helpers/tls.ts";

const haveSwaks = await available("swaks", ["--version"]);

describe("pop3d program: LMTP and PROXY protocol", () => {
  let site: Site;
  before(async () => {
    site = await makeSite();
  });
  after(async () => {
    await site?.remove();
  });

  it(
    "--lmtp-port takes mail from swaks into the users' Maildirs and refuses unknown users with 550 5.1.1",
    {
      skip: !haveSwaks && "swaks not installed",
    },
    async () => {
      const program = new Program([...site.args, "--lmtp-port", "0"]);
      try {
        const ports = await program.ready() as { pop3: number; lmtp?: number };
        assert.ok(ports.lmtp);
        const swaks = (to: string) =>
          run(
            "swaks",
            [
              "--protocol",
              "LMTP",
              "--server",
              "127.0.0.1",
              "--port",
              String(ports.lmtp),
              "--from",
              "sender@example.test",
              "--to",
              to,
              "--header",
              "Subject: via lmtp",
              "--body",
              "Delivered by swaks.",
            ],
            "",
            30_000,
          );
        const ok = await swaks("alice@example.test");
        assert.equal(ok.code, 0, new TextDecoder().decode(ok.stdout));
        const unknown = await swaks("nobody@example.test");
        assert.notEqual(unknown.code, 0);
        assert.match(new TextDecoder().decode(unknown.stdout), /550 5\.1\.1/);
        await program.waitFor((r) =>
          r.event === "lmtp-delivery" && r.user === "alice" &&
          r.outcome === "delivered"
        );
        await program.waitFor((r) =>
          r.event === "lmtp-recipient" && r.status === "unknown"
        );

        const client = new Pop3Client(await tcpConnect(ports.pop3));
        try {
          await client.greeting();
          assert.match(await client.cmd("USER alice"), /^\+OK/);
          assert.match(await client.cmd("PASS alice-pw"), /^\+OK/);
          const stat = await client.cmd("STAT");
          assert.equal(stat.split(" ")[1], String(ALICE_MAIL.length + 1));
          const retr = await client.multi(`RETR ${ALICE_MAIL.length + 1}`);
          const text = retr.lines.join("\n");
          assert.match(text, /Subject: via lmtp/);
          assert.match(text, /Delivered by swaks\./);
          await client.cmd("QUIT");
        } finally {
          client.close();
        }
      } finally {
        await program.stop();
      }
    },
  );

  it("--trusted-proxies logs the client address of the PROXY header and refuses a connection without one", async () => {
    const program = new Program([
      ...site.args,
      "--trusted-proxies",
      "127.0.0.0/8",
      "--plaintext-auth",
      "always",
      "--auth-penalty",
      "0",
    ]);
    try {
      const ports = await program.ready();
      const client = new Pop3Client(await tcpConnect(ports.pop3));
      try {
        await client.write(
          `PROXY TCP4 198.51.100.7 127.0.0.1 40000 ${ports.pop3}\r\n`,
        );
        await client.greeting();
        assert.match(await client.cmd("USER alice"), /^\+OK/);
        assert.match(await client.cmd("PASS wrong"), /^-ERR \[AUTH\]/);
      } finally {
        client.close();
      }
      const failed = await program.waitFor((r) => r.event === "login-failed");
      assert.equal(failed.remote, "198.51.100.7");

      // No header from the proxy's address: closed, and the log says why.
      const bare = new Pop3Client(await tcpConnect(ports.pop3));
      try {
        await bare.write("USER alice\r\n");
        await assert.rejects(bare.greeting());
      } finally {
        bare.close();
      }
      await program.waitFor((r) => r.event === "proxy-refused");
    } finally {
      await program.stop();
    }
  });
});
