import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { byMbox } from "../_helpers/by_mbox.ts";
import { MaildirStorage } from "../../maildir.ts";
import type { MessageSource } from "../../src/storage/types.ts";
import { Pop3Error } from "../../src/errors.ts";
import { nodeFs } from "../../src/runtime/node_fs.ts";

let base = "";
let root = "";
before(async () => {
  base = await mkdtemp(join(tmpdir(), "pop3d-maildir-"));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function maildir(
  name: string,
  files: Record<string, string | Uint8Array>,
): Promise<string> {
  const dir = join(root, name);
  for (const sub of ["cur", "new", "tmp"]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  for (const [path, content] of Object.entries(files)) {
    await writeFile(join(dir, path), content);
  }
  return dir;
}

async function bytesOf(source: MessageSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (!(source instanceof ReadableStream)) {
    throw new TypeError("Expected bytes or a stream");
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

function crlfLength(text: string): number {
  return new TextEncoder().encode(text.replace(/\r?\n/g, "\r\n")).length;
}

// Every test in both modes of the default file access.
for (const syncMetadata of [true, false]) {
  describe(`MaildirStorage (syncMetadata: ${syncMetadata})`, () => {
    before(async () => {
      root = join(base, String(syncMetadata));
      await mkdir(root);
    });

    it("moves new/ mail to cur/ and orders by delivery time, then name", async () => {
      const dir = await maildir("order", {
        "new/1700000300.M1P1.host": "third\n",
        "cur/1700000100.M9P9.host:2,S": "first\n",
        "new/1700000200.M2P1.host": "second-b\n",
        "cur/1700000200.M1P1.host:2,": "second-a\n",
        "new/.hidden": "ignored\n",
        "tmp/1700000050.M1P1.host": "not delivered yet\n",
      });
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("order"), true);
      assert.equal(storage.stat("order"), 4);
      const texts = [];
      for (let id = 1; id <= 4; id++) {
        texts.push(
          new TextDecoder().decode(
            await bytesOf(await storage.get("order", id)),
          ),
        );
      }
      assert.deepEqual(texts, [
        "first\n",
        "second-a\n",
        "second-b\n",
        "third\n",
      ]);
      await storage.unlock("order");
      assert.deepEqual((await readdir(join(dir, "new"))).sort(), [".hidden"]);
      const cur = (await readdir(join(dir, "cur"))).sort();
      assert.ok(cur.includes("1700000300.M1P1.host:2,S"), cur.join(" "));
      assert.ok(cur.includes("1700000200.M2P1.host:2,S"), cur.join(" "));
    });

    it("orders mail delivered within one second by the M<usec> part of the name", async () => {
      await maildir("usec", {
        "new/1700000000.M99P5.host": "b\n", // 99 µs
        "new/1700000000.M100000P4.host": "c\n", // 100000 µs
        "new/1700000000.M9P6.host": "a\n", // 9 µs
        "new/1699999999.M999999P1.host": "0\n",
      });
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("usec"), true);
      const order = [];
      for (let id = 1; id <= 4; id++) {
        order.push(
          new TextDecoder().decode(
            await bytesOf(await storage.get("usec", id)),
          ),
        );
      }
      assert.deepEqual(order, ["0\n", "a\n", "b\n", "c\n"]);
      await storage.unlock("usec");
    });

    it("counts sizes on the wire: bare LF as CRLF, and ,W= when present", async () => {
      const bareLf = "Subject: a\n\nline one\nline two\n";
      const mixed = "Subject: b\r\n\r\nx\ny\r\n\n";
      const crOnly = "a\rb\r\n";
      const lfAtChunkEdge = "x".repeat(65535) + "\r\n" + "y".repeat(65535) +
        "\n\n";
      await maildir("sizes", {
        "cur/1700000001.a,S=29:2,": bareLf,
        "cur/1700000002.b:2,": mixed,
        "cur/1700000003.c:2,": crOnly,
        "cur/1700000004.d,S=5,W=4242:2,": "12345",
        "cur/1700000005.e:2,": lfAtChunkEdge,
        "cur/1700000006.f:2,": "",
      });
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("sizes"), true);
      const sizes = [1, 2, 3, 4, 5, 6].map((id) => storage.size("sizes", id));
      assert.deepEqual(sizes, [
        crlfLength(bareLf),
        crlfLength(mixed),
        5, // a lone CR is not a line end
        4242,
        crlfLength(lfAtChunkEdge),
        0,
      ]);
      assert.equal(storage.size("sizes"), sizes.reduce((a, b) => a + b, 0));
      await storage.unlock("sizes");
    });

    it("computes a size once and reuses it by base name, without a stat, until a read shows it wrong", async () => {
      const dir = await maildir("cache", { "cur/1700000001.a:2,": "a\nb\n" });
      const file = join(dir, "cur", "1700000001.a:2,");
      const fs = nodeFs({ syncMetadata });
      const calls: string[] = [];
      for (
        const method of [
          "stat",
          "openRead",
          "readFile",
          "readNoFollow",
        ] as const
      ) {
        const inner = fs[method]!.bind(fs) as (...a: unknown[]) => never;
        (fs as unknown as Record<string, unknown>)[method] = (
          path: string,
          ...rest: unknown[]
        ) => {
          calls.push(`${method} ${path.slice(dir.length)}`);
          return inner(path, ...rest);
        };
      }
      const storage = byMbox(new MaildirStorage({ root, fs }));
      assert.equal(await storage.lock("cache"), true);
      assert.equal(storage.size("cache", 1), 6);
      await storage.unlock("cache");
      // A small file is counted from one whole read, not a stream (whose
      // chunk buffer would be 256 KiB for these 4 octets).
      assert.deepEqual(calls.filter((c) => c.includes("/cur/")), [
        "readNoFollow /cur/1700000001.a:2,",
      ]);
      // A flag change keeps the base name: the count stands, no stat, no read.
      await rename(file, join(dir, "cur", "1700000001.a:2,S"));
      calls.length = 0;
      assert.equal(await storage.lock("cache"), true);
      assert.equal(storage.size("cache", 1), 6);
      assert.deepEqual(calls.filter((c) => c.includes("/cur/")), []);
      // A file rewritten in place breaks the Maildir contract: the cached
      // count stands until a read of the whole file shows it wrong...
      await writeFile(join(dir, "cur", "1700000001.a:2,S"), "a\r\nb");
      assert.equal(
        new TextDecoder().decode(await bytesOf(await storage.get("cache", 1))),
        "a\r\nb",
      );
      await storage.unlock("cache");
      // ...then it is counted again.
      assert.equal(await storage.lock("cache"), true);
      assert.equal(storage.size("cache", 1), 4);
      await storage.unlock("cache");
    });

    it("counts sizes by streaming where the fs cannot read a file whole, or the file is large", async () => {
      const big = "x\n".repeat(40_000); // 80,000 octets: more than 64 KiB
      const dir = await maildir("streamed", {
        "cur/1700000001.a:2,": "a\nb\n",
        "cur/1700000002.b:2,": big,
      });
      const fs = nodeFs({ syncMetadata });
      const opened: string[] = [];
      const modes: string[] = [];
      const openRead = fs.openRead.bind(fs);
      fs.openRead = async (path) => {
        opened.push(path.slice(dir.length));
        const stream = (await openRead(path))!;
        const getReader = stream.getReader.bind(stream);
        // How it is read: into a buffer of the storage's own (BYOB).
        stream.getReader = ((options?: { mode?: "byob" }) => {
          modes.push(options?.mode ?? "default");
          return getReader(options as { mode: "byob" });
        }) as typeof stream.getReader;
        return stream;
      };
      const storage = byMbox(new MaildirStorage({ root, fs }));
      assert.equal(await storage.lock("streamed"), true);
      assert.deepEqual(
        [storage.size("streamed", 1), storage.size("streamed", 2)],
        [6, 120_000],
      );
      await storage.unlock("streamed");
      assert.deepEqual(opened, ["/cur/1700000002.b:2,"]);
      assert.deepEqual(modes, ["byob"]);

      const plain = nodeFs({ syncMetadata });
      delete plain.readNoFollow;
      const fresh = byMbox(new MaildirStorage({ root, fs: plain }));
      assert.equal(await fresh.lock("streamed"), true);
      assert.deepEqual(
        [fresh.size("streamed", 1), fresh.size("streamed", 2)],
        [6, 120_000],
      );
      await fresh.unlock("streamed");
    });

    it("lists cur/ without a stat per message when the fs lists kinds", async () => {
      const files: Record<string, string> = {};
      for (let i = 1; i <= 5; i++) {
        files[`cur/170000000${i}.M${i}P1.host,S=2,W=3:2,`] = "a\n";
      }
      await maildir("nostat", files);
      const fs = nodeFs({ syncMetadata });
      let stats = 0;
      const stat = fs.stat.bind(fs);
      fs.stat = (path) => {
        if (path.includes("/cur/") || path.includes("/new/")) stats++;
        return stat(path);
      };
      const storage = byMbox(new MaildirStorage({ root, fs }));
      assert.equal(await storage.lock("nostat"), true);
      assert.equal(storage.stat("nostat"), 5);
      assert.equal(storage.size("nostat"), 15);
      await storage.unlock("nostat");
      assert.equal(stats, 0);
    });

    it("shares the last listing while cur/ is unchanged and settled, and lists again after any change", async () => {
      const dir = await maildir("settled", {
        "cur/1700000001.a,W=3:2,S": "a\n",
        "cur/1700000002.b,W=3:2,": "b\n",
      });
      const old = new Date(Date.now() - 60_000);
      await utimes(join(dir, "cur"), old, old);
      const fs = nodeFs({ syncMetadata });
      let listings = 0;
      const count =
        <T>(inner: (path: string) => Promise<T>) => (path: string) => {
          if (path.endsWith("/cur")) listings++;
          return inner(path);
        };
      fs.readDir = count(fs.readDir.bind(fs));
      if (fs.readDirKinds) fs.readDirKinds = count(fs.readDirKinds.bind(fs));
      const storage = byMbox(new MaildirStorage({ root, fs }));
      const login = async () => {
        listings = 0;
        assert.equal(await storage.lock("settled"), true);
        const n = storage.stat("settled");
        const uidls = Array.from(
          { length: n },
          (_, i) => storage.uidl("settled", i + 1),
        );
        return { uidls, listings };
      };
      const both = ["1700000001.a", "1700000002.b"];
      assert.deepEqual(await login(), { uidls: both, listings: 1 });
      await storage.unlock("settled");
      // Unchanged and settled: shared, cur/ not listed.
      assert.deepEqual(await login(), { uidls: both, listings: 0 });
      // This session reads message 2 whole: its S flag renames it.
      await bytesOf(await storage.get("settled", 2));
      await storage.unlock("settled");
      assert.ok(
        (await readdir(join(dir, "cur"))).includes("1700000002.b,W=3:2,S"),
      );
      // cur/ changed: listed again, the renamed file found, and (changed just
      // now, not settled) listed again at the next login too.
      assert.deepEqual(await login(), { uidls: both, listings: 1 });
      assert.equal(
        new TextDecoder().decode(
          await bytesOf(await storage.get("settled", 2)),
        ),
        "b\n",
      );
      await storage.unlock("settled");
      assert.deepEqual(await login(), { uidls: both, listings: 1 });
      await storage.unlock("settled");
      // New mail in new/ is always seen.
      await utimes(join(dir, "cur"), old, old);
      assert.deepEqual(await login(), { uidls: both, listings: 1 });
      await storage.unlock("settled");
      await writeFile(join(dir, "new", "1700000003.c"), "c\n");
      assert.deepEqual(await login(), {
        uidls: [...both, "1700000003.c"],
        listings: 1,
      });
      await storage.unlock("settled");
      // A file put straight into cur/ (its mtime changes) is seen too.
      await utimes(join(dir, "cur"), old, old);
      assert.equal((await login()).listings, 1);
      await storage.unlock("settled");
      assert.equal((await login()).listings, 0);
      await storage.unlock("settled");
      await writeFile(join(dir, "cur", "1700000004.d:2,"), "d\n");
      assert.deepEqual(await login(), {
        uidls: [...both, "1700000003.c", "1700000004.d"],
        listings: 1,
      });
      await storage.unlock("settled");
    });

    it("keeps UIDLs stable across instances, new/→cur/ moves and flag changes", async () => {
      const dir = await maildir("uidl", {
        "new/1700000001.M1P1.host,S=3": "a\n\n",
        "cur/1700000002.M2P2.host,S=3,W=4:2,": "b\n\n",
      });
      const first = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await first.lock("uidl"), true);
      const uidls = [first.uidl("uidl", 1), first.uidl("uidl", 2)];
      assert.deepEqual(uidls, ["1700000001.M1P1.host", "1700000002.M2P2.host"]);
      await first.unlock("uidl");
      // Another reader flags the first message.
      await rename(
        join(dir, "cur", "1700000001.M1P1.host,S=3:2,"),
        join(dir, "cur", "1700000001.M1P1.host,S=3:2,FS"),
      );
      const second = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await second.lock("uidl"), true);
      assert.deepEqual([second.uidl("uidl", 1), second.uidl("uidl", 2)], uidls);
      await second.unlock("uidl");
    });

    it("derives a printable UIDL of at most 70 characters from odd file names", async () => {
      await maildir("odd", {
        [`cur/1700000001.${"x".repeat(80)}:2,`]: "a\n",
        "cur/1700000002.sp ace:2,": "b\n",
        "cur/1700000003.dup:2,S": "c\n",
        "cur/1700000003.dup,W=3:2,": "d\n",
      });
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("odd"), true);
      const ids = await Promise.all(
        [1, 2, 3, 4].map((id) => storage.uidl("odd", id)),
      );
      for (const id of ids) assert.match(id, /^[\x21-\x7e]{1,70}$/);
      assert.equal(new Set(ids).size, 4);
      await storage.unlock("odd");
    });

    it("marks a message seen after it was read whole, not after a partial read", async () => {
      const dir = await maildir("seen", {
        "cur/1700000001.a:2,F": "one\n",
        "cur/1700000002.b:2,": "two\n".repeat(50_000),
        "cur/1700000003.c:2,S": "three\n",
      });
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("seen"), true);
      assert.equal(
        new TextDecoder().decode(await bytesOf(await storage.get("seen", 1))),
        "one\n",
      );
      const partial = await storage.get("seen", 2);
      assert.ok(partial instanceof ReadableStream);
      const reader = partial.getReader();
      await reader.read();
      await reader.cancel();
      await bytesOf(await storage.get("seen", 3));
      await storage.unlock("seen");
      assert.deepEqual((await readdir(join(dir, "cur"))).sort(), [
        "1700000001.a:2,FS",
        "1700000002.b:2,",
        "1700000003.c:2,S",
      ]);
    });

    it("serves a small message as bytes and a large one as a stream; an unseen small one gets S only once read past its end", async () => {
      const dir = await maildir("small", {
        "cur/1700000001.a:2,S": "seen\n",
        "cur/1700000002.b:2,": "unseen\n",
        "cur/1700000003.c:2,S": "x".repeat(70_000),
        "cur/1700000004.d:2,": "top\n",
      });
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("small"), true);
      const seen = await storage.get("small", 1);
      assert.ok(seen instanceof Uint8Array);
      assert.equal(new TextDecoder().decode(seen), "seen\n");
      const large = await storage.get("small", 3);
      assert.ok(large instanceof ReadableStream);
      await large.cancel();
      // Unseen: one chunk, then the flag when the reader asks for more.
      const unseen = await storage.get("small", 2);
      assert.ok(unseen instanceof ReadableStream);
      const reader = unseen.getReader();
      const first = await reader.read();
      assert.equal(new TextDecoder().decode(first.value), "unseen\n");
      assert.ok((await readdir(join(dir, "cur"))).includes("1700000002.b:2,"));
      assert.equal((await reader.read()).done, true);
      // TOP that stops after the first chunk cancels: no flag.
      const top = (await storage.get("small", 4)) as ReadableStream<Uint8Array>;
      const topReader = top.getReader();
      await topReader.read();
      await topReader.cancel();
      await storage.unlock("small");
      assert.deepEqual((await readdir(join(dir, "cur"))).sort(), [
        "1700000001.a:2,S",
        "1700000002.b:2,S",
        "1700000003.c:2,S",
        "1700000004.d:2,",
      ]);
    });

    it("leaves flags alone with markSeen: false", async () => {
      const dir = await maildir("noseen", { "new/1700000001.a": "one\n" });
      const storage = byMbox(
        new MaildirStorage({ syncMetadata, root, markSeen: false }),
      );
      assert.equal(await storage.lock("noseen"), true);
      await bytesOf(await storage.get("noseen", 1));
      await storage.unlock("noseen");
      assert.deepEqual(await readdir(join(dir, "cur")), ["1700000001.a:2,"]);
    });

    it("streams exactly the file's bytes", async () => {
      const data = new Uint8Array(300_000);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
      await maildir("binary", { "cur/1700000001.bin:2,S": data });
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("binary"), true);
      assert.deepEqual(await bytesOf(await storage.get("binary", 1)), data);
      await storage.unlock("binary");
    });

    it("keeps numbers fixed while mail arrives, and shows the new mail next session", async () => {
      const dir = await maildir("arrive", { "new/1700000001.a": "one\n" });
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("arrive"), true);
      await writeFile(join(dir, "new", "1600000000.early"), "early\n");
      await writeFile(join(dir, "cur", "1700000002.b:2,"), "two\n");
      assert.equal(storage.stat("arrive"), 1);
      assert.equal(storage.size("arrive"), 5);
      assert.equal(storage.uidl("arrive", 1), "1700000001.a");
      await storage.unlock("arrive");
      assert.equal(await storage.lock("arrive"), true);
      assert.equal(storage.stat("arrive"), 3);
      assert.deepEqual(
        [1, 2, 3].map((id) => storage.uidl("arrive", id)),
        ["1600000000.early", "1700000001.a", "1700000002.b"],
      );
      await storage.unlock("arrive");
    });

    it("unlinks deleted messages, tolerating files removed or renamed by others", async () => {
      const dir = await maildir("dele", {
        "cur/1700000001.a:2,": "a\n",
        "cur/1700000002.b:2,": "b\n",
        "cur/1700000003.c:2,": "c\n",
        "cur/1700000004.d:2,": "d\n",
      });
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("dele"), true);
      await rm(join(dir, "cur", "1700000002.b:2,"));
      await rename(
        join(dir, "cur", "1700000003.c:2,"),
        join(dir, "cur", "1700000003.c:2,RS"),
      );
      // The renamed one can still be read.
      assert.equal(
        new TextDecoder().decode(await bytesOf(await storage.get("dele", 3))),
        "c\n",
      );
      await assert.rejects(storage.get("dele", 2), { name: "Pop3Error" });
      await storage.dele("dele", [1, 2, 3]);
      await storage.unlock("dele");
      assert.deepEqual(await readdir(join(dir, "cur")), ["1700000004.d:2,"]);
    });

    it("creates a missing Maildir at login", async () => {
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("fresh"), true);
      assert.equal(storage.stat("fresh"), 0);
      assert.equal(storage.size("fresh"), 0);
      await storage.unlock("fresh");
      assert.deepEqual((await readdir(join(root, "fresh"))).sort(), [
        "cur",
        "new",
        "tmp",
      ]);
      const strict = byMbox(
        new MaildirStorage({ syncMetadata, root, create: false }),
      );
      assert.equal(await strict.lock("absent"), true);
      assert.equal(strict.stat("absent"), 0);
      await strict.unlock("absent");
    });

    it("rejects path traversal out of the root", async () => {
      const outside = await mkdtemp(join(tmpdir(), "pop3d-outside-"));
      try {
        await maildir("victim", { "cur/1.a:2,": "x\n" });
        await mkdir(join(outside, "cur"), { recursive: true });
        await writeFile(join(outside, "cur", "1.secret:2,"), "secret\n");
        await symlink(outside, join(root, "escape"));
        await symlink(outside, join(root, "victim", "nested"));
        const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
        for (
          const ref of [
            "..",
            "../x",
            "a/../../x",
            "/etc",
            outside,
            "",
            ".",
            "victim/../..",
            "a\\..\\..",
            "a\0b",
          ]
        ) {
          await assert.rejects(
            storage.lock(ref),
            RangeError,
            JSON.stringify(ref),
          );
        }
        await assert.rejects(storage.lock("escape"), /outside the root/);
        await assert.rejects(storage.lock("victim/nested"), /outside the root/);
        await assert.rejects(storage.lock("escape/sub"), /outside the root/);
        // Nothing was created outside the root.
        assert.deepEqual(await readdir(outside), ["cur"]);
        const raw = new MaildirStorage({ syncMetadata, root });
        assert.equal(raw.path("victim/../victim"), join(root, "victim"));
        assert.equal(raw.path(join(root, "victim")), join(root, "victim"));
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
    });

    it("never serves symbolic links inside cur/ or new/", async () => {
      const outside = await mkdtemp(join(tmpdir(), "pop3d-outside-"));
      try {
        await writeFile(join(outside, "secret"), "secret\n");
        const dir = await maildir("links", { "cur/1700000001.ok:2,": "ok\n" });
        await symlink(
          join(outside, "secret"),
          join(dir, "cur", "1700000002.link:2,"),
        );
        await symlink(
          join(outside, "secret"),
          join(dir, "new", "1700000003.link"),
        );
        const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
        assert.equal(await storage.lock("links"), true);
        assert.equal(storage.stat("links"), 1);
        await storage.unlock("links");
        assert.equal(
          await readFile(join(outside, "secret"), "utf8"),
          "secret\n",
        );
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
    });

    it("MaildirStorage refuses a Maildir whose cur/ is a symlink out of the root (ln -s ../../outside ROOT/alice/cur)", async () => {
      const outside = await mkdtemp(join(tmpdir(), "pop3d-outside-"));
      try {
        await writeFile(join(outside, "1700000000.secret:2,"), "secret\n");
        const dir = join(root, "cur-escape");
        await mkdir(join(dir, "new"), { recursive: true });
        await mkdir(join(dir, "tmp"), { recursive: true });
        await symlink(outside, join(dir, "cur"));
        const reports: unknown[] = [];
        const storage = new MaildirStorage({
          syncMetadata,
          root,
          onError: (e) => reports.push(e),
        });
        const signal = new AbortController().signal;
        await assert.rejects(
          storage.openMaildrop("cur-escape", { user: "alice", signal }),
          (e: unknown) => e instanceof Pop3Error && e.code === "SYS/PERM",
        );
        assert.equal(reports.length, 1);
        assert.match(String(reports[0]), /"cur" is not a real directory/);
        assert.deepEqual(await readdir(outside), ["1700000000.secret:2,"]);
        // No lock stays behind: with cur/ fixed, the Maildir opens.
        await rm(join(dir, "cur"));
        await mkdir(join(dir, "cur"));
        const handle = await storage.openMaildrop("cur-escape", {
          user: "alice",
          signal,
        });
        assert.equal(handle?.count, 0);
        await handle?.close();
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
    });

    it("MaildirStorage refuses a symlinked cur/, tmp/ or a non-directory Maildir also over a file system without readDirKinds", async () => {
      const outside = await mkdtemp(join(tmpdir(), "pop3d-outside-"));
      try {
        const fs = nodeFs({ syncMetadata });
        delete fs.readDirKinds;
        const reports: unknown[] = [];
        const storage = byMbox(
          new MaildirStorage({ root, fs, onError: (e) => reports.push(e) }),
        );
        for (const sub of ["cur", "tmp"]) {
          const dir = join(root, `plain-${sub}-escape`);
          for (const other of ["cur", "new", "tmp"]) {
            if (other !== sub) {
              await mkdir(join(dir, other), { recursive: true });
            }
          }
          await symlink(outside, join(dir, sub));
          await assert.rejects(
            storage.lock(`plain-${sub}-escape`),
            (e: unknown) => e instanceof Pop3Error && e.code === "SYS/PERM",
          );
        }
        assert.equal(reports.length, 2);
        await writeFile(join(root, "a-file"), "x\n");
        await assert.rejects(storage.lock("a-file"), /is not a directory/);
        // The default listing of kinds says the same.
        const listing = byMbox(new MaildirStorage({ syncMetadata, root }));
        await assert.rejects(listing.lock("a-file"), /is not a directory/);
        await assert.rejects(
          listing.lock("plain-tmp-escape"),
          (e: unknown) => e instanceof Pop3Error && e.code === "SYS/PERM",
        );
        assert.deepEqual(await readdir(outside), []);
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
    });

    it("MaildirStorage resolves the root once, again only when the root link moved, and lists the Maildir instead of a stat per directory", async () => {
      const targets = [join(root, "target-1"), join(root, "target-2")];
      for (const target of targets) {
        await mkdir(join(target, "alice", "cur"), { recursive: true });
        await mkdir(join(target, "alice", "new"), { recursive: true });
        await mkdir(join(target, "alice", "tmp"), { recursive: true });
      }
      await writeFile(
        join(targets[1], "alice", "new", "1700000000.M1P1.x"),
        "x\n",
      );
      const link = join(root, "root-link");
      await symlink(targets[0], link);
      const fs = nodeFs({ syncMetadata });
      const resolved: string[] = [];
      const realPath = fs.realPath;
      fs.realPath = (path) => {
        resolved.push(path);
        return realPath(path);
      };
      // The Maildir and its cur/, new/ and tmp/ are checked from one
      // listing with kinds, not a stat each.
      const statted: string[] = [];
      const stat = fs.stat;
      fs.stat = (path) => {
        statted.push(path);
        return stat(path);
      };
      const storage = byMbox(new MaildirStorage({ root: link, fs }));
      for (let i = 0; i < 3; i++) {
        assert.equal(await storage.lock("alice"), true);
        assert.equal(storage.stat("alice"), 0);
        await storage.unlock("alice");
      }
      // One real path per login (the Maildir's), and the root's once.
      assert.equal(resolved.filter((p) => p === link).length, 1);
      assert.equal(resolved.length, 4);
      // (The snapshot stats cur/ itself, for its modification time: that
      // tells whether the last listing can be shared.)
      assert.deepEqual(
        statted.filter((p) => /\/alice(\/(new|tmp))?$/.test(p)),
        [],
      );
      // The operator moves the root link: the next login follows it.
      await rm(link);
      await symlink(targets[1], link);
      assert.equal(await storage.lock("alice"), true);
      assert.equal(storage.stat("alice"), 1);
      await storage.unlock("alice");
      assert.equal(resolved.filter((p) => p === link).length, 2);
    });

    it("MaildirStorage refuses a Maildir whose new/ links to another user's new/ (ROOT/alice/new -> ../bob/new)", async () => {
      const bob = await maildir("bob-new", { "new/1700000001.bob": "bob\n" });
      const alice = join(root, "alice-new");
      await mkdir(join(alice, "cur"), { recursive: true });
      await mkdir(join(alice, "tmp"), { recursive: true });
      await symlink("../bob-new/new", join(alice, "new"));
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      await assert.rejects(
        storage.lock("alice-new"),
        (e: unknown) => e instanceof Pop3Error && e.code === "SYS/PERM",
      );
      // Bob's new mail was not moved into alice's cur/.
      assert.deepEqual(await readdir(join(bob, "new")), ["1700000001.bob"]);
      assert.deepEqual(await readdir(join(alice, "cur")), []);
      // Also refused: tmp/ as a link, and cur/ as a file.
      await rm(join(alice, "new"));
      await mkdir(join(alice, "new"));
      await rm(join(alice, "tmp"), { recursive: true });
      await symlink("../bob-new/tmp", join(alice, "tmp"));
      await assert.rejects(storage.lock("alice-new"), Pop3Error);
      await rm(join(alice, "tmp"));
      await mkdir(join(alice, "tmp"));
      await rm(join(alice, "cur"), { recursive: true });
      await writeFile(join(alice, "cur"), "not a directory\n");
      await assert.rejects(storage.lock("alice-new"), Pop3Error);
    });

    it("MaildirMaildrop never reads or unlinks a link planted under a message's unique name", async () => {
      const outside = await mkdtemp(join(tmpdir(), "pop3d-outside-"));
      try {
        await writeFile(join(outside, "victim"), "victim\n");
        const dir = await maildir("planted", { "cur/1700000001.a:2,": "a\n" });
        const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
        assert.equal(await storage.lock("planted"), true);
        // The real file goes; a link with the same unique part takes its place.
        await rm(join(dir, "cur", "1700000001.a:2,"));
        await symlink(
          join(outside, "victim"),
          join(dir, "cur", "1700000001.a:2,S"),
        );
        await assert.rejects(storage.get("planted", 1), Pop3Error);
        assert.deepEqual(await storage.dele("planted", [1]), [1]);
        await storage.unlock("planted");
        assert.deepEqual(await readdir(join(dir, "cur")), ["1700000001.a:2,S"]);
        assert.equal(
          await readFile(join(outside, "victim"), "utf8"),
          "victim\n",
        );
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
    });

    it("MaildirMaildrop.delete reports exactly the messages removed when an unlink fails midway", async () => {
      const dir = await maildir("partial", {
        "cur/1700000001.a:2,": "a\n",
        "cur/1700000002.b:2,": "b\n",
        "cur/1700000003.c:2,": "c\n",
      });
      const fs = nodeFs({ syncMetadata });
      const unlink = fs.unlink;
      fs.unlink = (path) =>
        path.endsWith("1700000002.b:2,")
          ? Promise.reject(
            Object.assign(new Error("EACCES"), { code: "EACCES" }),
          )
          : unlink(path);
      const reports: unknown[] = [];
      const storage = byMbox(
        new MaildirStorage({
          syncMetadata,
          root,
          fs,
          onError: (e) => reports.push(e),
        }),
      );
      assert.equal(await storage.lock("partial"), true);
      assert.deepEqual(await storage.dele("partial", [1, 2, 3]), [1, 3]);
      assert.equal(reports.length, 1);
      await storage.unlock("partial");
      assert.deepEqual(await readdir(join(dir, "cur")), ["1700000002.b:2,"]);
      // When nothing could be removed, the delete fails.
      assert.equal(await storage.lock("partial"), true);
      await assert.rejects(storage.dele("partial", [1]), /EACCES/);
      await storage.unlock("partial");
    });

    it("throws on bad options and on use without a lock", () => {
      assert.throws(
        () => (new MaildirStorage({ syncMetadata, root: "" })),
        TypeError,
      );
      assert.throws(
        () => (new MaildirStorage({ syncMetadata, root, staleLockMs: 0 })),
        RangeError,
      );
      for (const bad of ["yes", 1]) {
        assert.throws(
          () =>
            new MaildirStorage({
              root,
              syncMetadata: bad as unknown as boolean,
            }),
          { name: "TypeError", message: /syncMetadata must be a boolean/ },
        );
      }
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.throws(() => storage.stat("nobody"), TypeError);
    });
  });
}
