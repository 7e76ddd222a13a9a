// A Maildir written by Dovecot's own LDA (dovecot-core), served by
// MaildirStorage: sizes from ,W=, byte-exact content, stable UIDLs.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chown,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { byMbox } from "../_helpers/by_mbox.ts";
import { MaildirStorage } from "../../maildir.ts";
import type { MessageSource } from "../../src/storage/types.ts";

const LDA = "/usr/lib/dovecot/dovecot-lda";
const HAVE_LDA = await stat(LDA).then(() => true, () => false);
if (!HAVE_LDA) {
  console.log(
    `${LDA} not found: Dovecot Maildir test skipped (install dovecot-core)`,
  );
}
const IS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;
const NOBODY = 65534;

const MESSAGES = [
  "From: a@example.org\nTo: alice@example.org\nSubject: one\n\nbody\n.\n..dots\n",
  "From: b@example.org\r\nSubject: two\r\n\r\nCRLF body\r\nmixed\nend\r\n",
  `From: c@example.org\nSubject: =?UTF-8?Q?dr=C3=A9i?=\n\n${
    "Grüße, long line ".repeat(5000)
  }\n`,
];

let root = "";
before(async () => {
  root = await mkdtemp(join(tmpdir(), "pop3d-dovecot-"));
  // Dovecot refuses to deliver as root: deliver as nobody when we are root.
  if (IS_ROOT) await chown(root, NOBODY, NOBODY);
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function deliver(message: string): void {
  const config = join(root, "dovecot.conf");
  const args = [
    "-c",
    config,
    "-o",
    `mail_location=maildir:${root}/alice`,
    "-f",
    "sender@example.org",
  ];
  const env = { ...process.env, HOME: root, USER: "nobody" };
  if (IS_ROOT) {
    execFileSync("setpriv", [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      "--clear-groups",
      LDA,
      ...args,
    ], { input: message, env, stdio: ["pipe", "ignore", "pipe"] });
  } else {
    execFileSync(LDA, args, {
      input: message,
      env,
      stdio: ["pipe", "ignore", "pipe"],
    });
  }
}

async function text(source: MessageSource): Promise<string> {
  assert.ok(source instanceof ReadableStream);
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return new TextDecoder().decode(
    new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer()),
  );
}

describe("MaildirStorage on a Maildir written by dovecot-lda", {
  skip: HAVE_LDA ? false : "dovecot-lda not installed",
}, () => {
  it("serves Dovecot's messages byte-exact with Dovecot's wire sizes", async () => {
    await writeFile(
      join(root, "dovecot.conf"),
      `base_dir = ${root}/run\nlog_path = /dev/null\nssl = no\n`,
    );
    if (IS_ROOT) await chown(join(root, "dovecot.conf"), NOBODY, NOBODY);
    for (const message of MESSAGES) deliver(message);
    const delivered = await readdir(join(root, "alice", "new"));
    assert.equal(delivered.length, 3);
    for (const name of delivered) assert.match(name, /,S=\d+,W=\d+$/);

    const storage = byMbox(new MaildirStorage({ root }));
    assert.equal(await storage.lock("alice"), true);
    assert.equal(storage.stat("alice"), 3);
    const encoder = new TextEncoder();
    const uidls = [];
    for (let id = 1; id <= 3; id++) {
      const expected = MESSAGES[id - 1];
      // Dovecot's W= is the CRLF size; it must agree with our own count.
      assert.equal(
        storage.size("alice", id),
        encoder.encode(expected.replace(/\r?\n/g, "\r\n")).length,
      );
      // Dovecot stores lines with LF only.
      assert.equal(
        await text(await storage.get("alice", id)),
        expected.replace(/\r\n/g, "\n"),
      );
      uidls.push(storage.uidl("alice", id));
    }
    await storage.unlock("alice");
    // dovecot-lda wrote a dovecot-uidlist: the UIDLs are Dovecot's own
    // (pop3_uidl_format %08Xu%08Xv: UID and UIDVALIDITY), in UID order (the
    // contents above came back in the order they were delivered).
    const header =
      (await readFile(join(root, "alice", "dovecot-uidlist"), "latin1"))
        .split("\n")[0];
    const validity = Number(/ V(\d+)/.exec(header)![1]);
    const hex8 = (n: number) => n.toString(16).padStart(8, "0");
    assert.deepEqual(uidls, [1, 2, 3].map((u) => hex8(u) + hex8(validity)));

    // Without the uidlist, the unique names are the UIDLs.
    const own = byMbox(new MaildirStorage({ root, dovecotUidl: false }));
    assert.equal(await own.lock("alice"), true);
    assert.deepEqual(
      [1, 2, 3].map((id) => own.uidl("alice", id)).sort(),
      [...delivered].sort().map((name) => name.split(",")[0]),
    );
    await own.unlock("alice");

    // Dovecot delivers again into the folder we changed; nothing breaks.
    deliver("Subject: four\n\nlater\n");
    const cur = await readdir(join(root, "alice", "cur"));
    assert.equal(cur.filter((name) => name.endsWith(":2,S")).length, 3);
    const again = byMbox(new MaildirStorage({ root }));
    assert.equal(await again.lock("alice"), true);
    assert.equal(again.stat("alice"), 4);
    assert.deepEqual([1, 2, 3].map((id) => again.uidl("alice", id)), uidls);
    await again.unlock("alice");
  });
});
