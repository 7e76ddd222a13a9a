/**
 * The `pop3d` program serving a Maildir behind TLS to the mail fetchers that
 * users run: mpop and fetchmail, over POP3S and STLS, keeping mail on the
 * server (UIDL) and then deleting it. Skipped where a client is missing.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ALICE_MAIL,
  makeSite,
  Program,
  type Site,
  tlsArgs,
} from "../_helpers/cli_program.ts";
import { available, run } from "../_helpers/tls.ts";

const haveMpop = await available("mpop", ["--version"]);
const haveFetchmail = await available("fetchmail", ["--version"]);

/** The messages in a Maildir that a client delivered into, as text. */
async function delivered(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ["new", "cur"]) {
    const names = await readdir(join(dir, sub)).catch(() => [] as string[]);
    for (const name of names.sort()) {
      out.push(await readFile(join(dir, sub, name), "latin1"));
    }
  }
  return out;
}

/** A message as a fetcher stores it: LF line ends, no added headers. */
function body(text: string): string {
  return text.replace(/\r\n/g, "\n");
}

async function localMaildir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "pop3d-fetch-"));
  for (const sub of ["new", "cur", "tmp"]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  return dir;
}

describe("pop3d program with mpop and fetchmail", () => {
  let site: Site;
  let program: Program;
  let ports: { pop3: number; pop3s?: number };
  const scratch: string[] = [];
  before(async () => {
    if (!haveMpop && !haveFetchmail) return;
    site = await makeSite();
    program = new Program([...site.args, ...tlsArgs(site)]);
    ports = await program.ready();
  });
  after(async () => {
    await program?.stop();
    await site?.remove();
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });

  it(
    "mpop fetches over POP3S and STLS, keeps mail on the server by UIDL, then deletes it",
    {
      skip: !haveMpop && "mpop not installed",
    },
    async () => {
      const target = await localMaildir();
      scratch.push(target);
      const common = [
        "--host=127.0.0.1",
        "--auth=user",
        "--user=alice",
        "--passwordeval=echo alice-pw",
        `--tls-trust-file=${site.cert.certFile}`,
        `--delivery=maildir,${target}`,
        `--uidls-file=${join(target, "uidls")}`,
        "--received-header=off",
      ];
      // POP3S, keeping the mail on the server.
      const first = await run(
        "mpop",
        [
          ...common,
          `--port=${ports.pop3s}`,
          "--tls=on",
          "--tls-starttls=off",
          "--keep=on",
          "--quiet",
        ],
        "",
        30_000,
      );
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(await delivered(target), ALICE_MAIL.map(body));
      // STLS: the UIDLs it saw are still there, so nothing is fetched again;
      // this time it deletes what it has.
      const second = await run(
        "mpop",
        [
          ...common,
          `--port=${ports.pop3}`,
          "--tls=on",
          "--tls-starttls=on",
          "--keep=off",
          "--only-new=on",
          "--quiet",
        ],
        "",
        30_000,
      );
      assert.equal(second.code, 0, second.stderr);
      assert.equal((await delivered(target)).length, ALICE_MAIL.length);
      const left = await readdir(join(site.maildir, "alice", "cur"));
      assert.deepEqual(left.filter((n) => !n.startsWith(".")), []);
    },
  );

  it(
    "fetchmail fetches over POP3S with certificate checks and deletes what it fetched",
    {
      skip: !haveFetchmail && "fetchmail not installed",
    },
    async () => {
      for (let i = 0; i < ALICE_MAIL.length; i++) {
        await writeFile(
          join(site.maildir, "bob", "new", `200${i}.M${i}P2.test`),
          ALICE_MAIL[i],
        );
      }
      const out = await mkdtemp(join(tmpdir(), "pop3d-fetchmail-"));
      scratch.push(out);
      const rc = join(out, "fetchmailrc");
      await writeFile(
        rc,
        [
          `poll 127.0.0.1 service ${ports.pop3s} protocol pop3 uidl`,
          `  user "bob" password "bob-pw" is "bob" here`,
          `  ssl sslcertck sslcertfile "${site.cert.certFile}" sslcommonname "localhost"`,
          `  mda "/bin/sh -c 'cat > ${out}/msg-$$$$-$(date +%s%N)'"`,
          "",
        ].join("\n"),
        { mode: 0o600 },
      );
      const result = await run(
        "fetchmail",
        [
          "--fetchmailrc",
          rc,
          "--pidfile",
          join(out, "pid"),
          "--idfile",
          join(out, "ids"),
          "--nodetach",
          "--nosyslog",
          "--silent",
        ],
        "",
        60_000,
      );
      assert.equal(result.code, 0, result.stderr);
      const files = (await readdir(out)).filter((n) => n.startsWith("msg-"));
      assert.equal(files.length, ALICE_MAIL.length);
      const got = await Promise.all(
        files.map((n) => readFile(join(out, n), "latin1")),
      );
      for (const message of ALICE_MAIL) {
        // fetchmail adds its own Received: header in front of the message.
        assert.ok(
          got.some((g) => g.endsWith(body(message))),
          `missing ${JSON.stringify(message)} in ${JSON.stringify(got)}`,
        );
      }
      // Fetched mail is deleted on the server (fetchmail's default).
      const left = await readdir(join(site.maildir, "bob", "cur"));
      assert.deepEqual(left.filter((n) => !n.startsWith(".")), []);
    },
  );
});
