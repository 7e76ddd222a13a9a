import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MaildirDeliver } from "../../src/maildir/maildir_deliver.ts";
import { MaildirStorage } from "../../src/maildir/maildir_storage.ts";
import type { MaildirFs } from "../../src/maildir/maildir_fs.ts";
import { nodeFs } from "../../src/runtime/node_fs.ts";
import type { MessageSource } from "../../src/storage/types.ts";
import { byMbox } from "../_helpers/by_mbox.ts";

let root = "";
before(async () => {
  root = await mkdtemp(join(tmpdir(), "pop3d-deliver-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const te = new TextEncoder();
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** What Pop3d would send for a message: the stream with bare LF as CRLF. */
async function wire(source: MessageSource): Promise<Uint8Array> {
  const parts: number[] = [];
  const reader = (source as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(...value);
  }
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === 10 && (i === 0 || parts[i - 1] !== 13)) out.push(13);
    out.push(parts[i]);
  }
  return Uint8Array.from(out);
}

describe("MaildirDeliver", () => {
  it("MaildirDeliver writes LF files in new/ that MaildirStorage serves as the CRLF bytes delivered", async () => {
    const target = new MaildirDeliver({ root });
    const messages = [
      latin1("Subject: a\r\n\r\nline\r\n"),
      latin1("cr cr lf\r\r\nlone cr\r end\r\n"),
      latin1("\r\nstarts with CRLF\r\n\r\n\r\n"),
      latin1("8-bit \u00e9\u00ff\u0000\r\n.dot\r\n"),
      latin1("no final newline"),
    ];
    const stored = [];
    for (const m of messages) stored.push(await target.deliver("alice", m));
    assert.deepEqual(await readdir(join(root, "alice", "tmp")), []);
    const names = await readdir(join(root, "alice", "new"));
    assert.equal(names.length, messages.length);
    for (const s of stored) {
      const file = await readFile(join(root, "alice", "new", s.name));
      assert.equal(s.size, file.length);
      assert.match(s.name, new RegExp(`,S=${file.length},W=${s.wireSize}$`));
    }
    assert.equal(
      await readFile(join(root, "alice", "new", stored[0].name), "latin1"),
      "Subject: a\n\nline\n",
    );
    const storage = byMbox(new MaildirStorage({ root }));
    assert.ok(await storage.lock("alice"));
    try {
      assert.equal(storage.stat("alice"), messages.length);
      for (let n = 1; n <= messages.length; n++) {
        assert.deepEqual(
          await wire(await storage.get("alice", n)),
          messages[n - 1],
        );
        assert.equal(storage.size("alice", n), messages[n - 1].length);
        assert.equal(storage.uidl("alice", n), stored[n - 1].unique);
      }
    } finally {
      await storage.unlock("alice");
    }
  });

  it("MaildirDeliver names files <seconds>.M<usec>P<pid>Q<n>R<random>.<host>", async () => {
    const fs: MaildirFs = { ...nodeFs(), hostname: () => "mx/1:2,3" };
    const s = await new MaildirDeliver({ root, fs }).deliver("names", "x\r\n");
    assert.match(
      s.name,
      /^\d{10}\.M\d{6}P\d+Q\d+R[0-9a-z]+\.mx\\0571\\0722\\0543,S=2,W=3$/,
    );
    const seconds = Number(s.name.split(".")[0]);
    assert.ok(Math.abs(seconds - Date.now() / 1000) < 60);
  });

  it("MaildirDeliver refuses references outside the root, also through a symlink", async () => {
    const outside = await mkdtemp(join(tmpdir(), "pop3d-outside-"));
    try {
      await symlink(outside, join(root, "escape"));
      const target = new MaildirDeliver({ root });
      await assert.rejects(target.deliver("../x", "m\r\n"), RangeError);
      await assert.rejects(
        target.deliver("escape", "m\r\n"),
        /outside the root/,
      );
      await assert.rejects(
        target.deliver("escape/sub", "m\r\n"),
        /outside the root/,
      );
      assert.deepEqual(await readdir(outside), []);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("MaildirDeliver with create: false refuses a missing Maildir", async () => {
    const target = new MaildirDeliver({ root, create: false });
    await assert.rejects(target.deliver("nobody", "m\r\n"), /is missing/);
    await mkdir(join(root, "present", "tmp"), { recursive: true });
    await mkdir(join(root, "present", "new"), { recursive: true });
    await target.deliver("present", "m\r\n");
    assert.equal((await readdir(join(root, "present", "new"))).length, 1);
  });

  it("MaildirDeliver leaves nothing in tmp/ or new/ when the rename fails", async () => {
    const fs: MaildirFs = {
      ...nodeFs(),
      rename: () => Promise.reject(new Error("EIO")),
    };
    const target = new MaildirDeliver({ root, fs });
    await assert.rejects(target.deliver("failing", "m\r\n"), /EIO/);
    assert.deepEqual(await readdir(join(root, "failing", "tmp")), []);
    assert.deepEqual(await readdir(join(root, "failing", "new")), []);
  });

  it("MaildirDeliver syncs the file and new/ through the seam, and falls back without writeNew", async () => {
    const calls: string[] = [];
    const base = nodeFs();
    const fs: MaildirFs = {
      ...base,
      writeNew: (path, data, options) => {
        calls.push(`writeNew sync=${options?.sync}`);
        return base.writeNew!(path, data, options);
      },
      syncDir: (path) => {
        calls.push(`syncDir ${path.slice(path.lastIndexOf("/") + 1)}`);
        return base.syncDir!(path);
      },
    };
    await new MaildirDeliver({ root, fs }).deliver("synced", "m\r\n");
    assert.deepEqual(calls, ["writeNew sync=true", "syncDir new"]);
    const { writeNew: _w, syncDir: _s, ...old } = base;
    await new MaildirDeliver({ root, fs: old }).deliver(
      "oldfs",
      te.encode("m\r\n"),
    );
    assert.equal((await readdir(join(root, "oldfs", "new"))).length, 1);
    assert.deepEqual(await readdir(join(root, "oldfs", "tmp")), []);
  });

  it("MaildirDeliver delivers again after its Maildir was removed", async () => {
    const target = new MaildirDeliver({ root });
    await target.deliver("removed", "1\r\n");
    await rm(join(root, "removed"), { recursive: true });
    await target.deliver("removed", "2\r\n");
    assert.equal((await readdir(join(root, "removed", "new"))).length, 1);
  });
});
