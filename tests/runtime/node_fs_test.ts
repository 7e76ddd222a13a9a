// nodeFs: the MaildirFs methods added for the Dovecot uidlist and the
// Maildir snapshot, in both modes (asynchronous calls, and synchronous
// metadata calls behind settled promises).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  mkdir,
  mkdtemp,
  readFile,
  realpath,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from "node:fs/promises";
import { existsSync, readdirSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { nodeFs as makeNodeFs } from "../../src/runtime/node_fs.ts";
import { readInto } from "../../src/_util/read_into.ts";

/** Open file descriptors of this process (Linux). */
function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pop3d-nodefs-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

for (const syncMetadata of [false, true]) {
  describe(`nodeFs (syncMetadata: ${syncMetadata})`, () => {
    const nodeFs = () => makeNodeFs({ syncMetadata });

    it("nodeFs appendFile appends to an existing file and keeps its inode", async () => {
      const path = join(dir, `list-${syncMetadata}`);
      await writeFile(path, "a\n");
      const before = await stat(path);
      const fs = nodeFs();
      assert.equal(
        await fs.appendFile!(path, new TextEncoder().encode("b\n")),
        true,
      );
      assert.equal(await readFile(path, "utf8"), "a\nb\n");
      assert.equal((await stat(path)).ino, before.ino);
    });

    it("nodeFs appendFile never creates a missing file", async () => {
      const path = join(dir, `missing-${syncMetadata}`);
      assert.equal(
        await nodeFs().appendFile!(path, new Uint8Array([65])),
        false,
      );
      assert.equal(await stat(path).then(() => true, () => false), false);
    });

    it("nodeFs readDirKinds tells files, directories and links apart without following links", async () => {
      const sub = join(dir, `kinds-${syncMetadata}`);
      await mkdir(join(sub, "d"), { recursive: true });
      await writeFile(join(sub, "f"), "x");
      await symlink(join(sub, "f"), join(sub, "to-file"));
      await symlink(join(sub, "d"), join(sub, "to-dir"));
      const found = await nodeFs().readDirKinds!(sub);
      const kinds = Object.fromEntries(found!.map((e) => [e.name, e.kind]));
      assert.deepEqual(kinds, {
        d: "directory",
        f: "file",
        "to-file": "symlink",
        "to-dir": "symlink",
      });
      assert.equal(await nodeFs().readDirKinds!(join(dir, "none")), undefined);
    });

    it("nodeFs readNoFollow reads a small file whole, refuses links and large files", async () => {
      const sub = join(dir, `whole-${syncMetadata}`);
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, "m"), "hello");
      await symlink(join(sub, "m"), join(sub, "link"));
      const fs = nodeFs();
      assert.equal(
        new TextDecoder().decode((await fs.readNoFollow!(join(sub, "m"), 5))!),
        "hello",
      );
      assert.equal(await fs.readNoFollow!(join(sub, "m"), 4), null);
      assert.equal(await fs.readNoFollow!(join(sub, "none"), 5), undefined);
      await assert.rejects(fs.readNoFollow!(join(sub, "link"), 5));
      // Each result is its own copy: a later read does not change it.
      await writeFile(join(sub, "n"), "HELLO, again");
      const first = (await fs.readNoFollow!(join(sub, "m"), 64 * 1024))!;
      const second = (await fs.readNoFollow!(join(sub, "n"), 64 * 1024))!;
      assert.equal(new TextDecoder().decode(first), "hello");
      assert.equal(new TextDecoder().decode(second), "HELLO, again");
      // Large limits and files (read after a size check).
      const big = new Uint8Array(300 * 1024).fill(0x62);
      await writeFile(join(sub, "big"), big);
      assert.deepEqual(await fs.readNoFollow!(join(sub, "big"), 1 << 20), big);
      assert.equal(
        await fs.readNoFollow!(join(sub, "big"), 300 * 1024 - 1),
        null,
      );
      assert.equal(await fs.readNoFollow!(join(sub, "big"), 64 * 1024), null);
    });

    it("nodeFs reports a missing path as undefined or false and rejects other errors", async () => {
      const fs = nodeFs();
      const none = join(dir, `none-${syncMetadata}`);
      assert.equal(await fs.readDir(none), undefined);
      assert.equal(await fs.stat(none), undefined);
      assert.equal(await fs.realPath(none), undefined);
      assert.equal(await fs.readFile(none), undefined);
      assert.equal(await fs.rename(none, `${none}.x`), false);
      assert.equal(await fs.unlink(none), false);
      // Not missing but wrong: a rejected promise, never a synchronous throw.
      const file = join(dir, `file-${syncMetadata}`);
      await writeFile(file, "x");
      let result: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        result = fs.readDir(file);
      });
      await assert.rejects(
        result!,
        (e: { code?: string }) => e.code === "ENOTDIR",
      );
    });

    it("nodeFs makes its change before the promise is awaited only with syncMetadata", async () => {
      const fs = nodeFs();
      const sub = join(dir, `now-${syncMetadata}`);
      const made = fs.mkdir(sub);
      if (syncMetadata) assert.equal(existsSync(sub), true);
      await made;
      const moved = fs.rename(sub, `${sub}.moved`);
      if (syncMetadata) assert.equal(existsSync(`${sub}.moved`), true);
      assert.equal(await moved, true);
    });

    it("nodeFs openRead streams a large file exactly, 256 KiB per read", async () => {
      const path = join(dir, `large-${syncMetadata}`);
      const data = new Uint8Array(600 * 1024 + 123);
      for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
      await writeFile(path, data);
      const stream = await nodeFs().openRead(path);
      const chunks: Uint8Array[] = [];
      for await (const chunk of stream!) chunks.push(chunk);
      assert.deepEqual(chunks.map((c) => c.length), [
        256 * 1024,
        256 * 1024,
        88 * 1024 + 123,
      ]);
      const joined = new Uint8Array(data.length);
      let at = 0;
      for (const chunk of chunks) {
        joined.set(chunk, at);
        at += chunk.length;
      }
      assert.deepEqual(joined, data);
      assert.equal(await nodeFs().openRead(`${path}.none`), undefined);
    });

    it("nodeFs openRead fills a BYOB reader's own buffer, the same one read after read", async () => {
      const path = join(dir, `byob-${syncMetadata}`);
      const data = new Uint8Array(600 * 1024 + 123);
      for (let i = 0; i < data.length; i++) data[i] = (i * 29) & 0xff;
      await writeFile(path, data);
      const reader = (await nodeFs().openRead(path))!.getReader({
        mode: "byob",
      });
      let buffer = new ArrayBuffer(256 * 1024);
      const lengths: number[] = [];
      const joined = new Uint8Array(data.length);
      let at = 0;
      for (;;) {
        const { done, value } = await reader.read(new Uint8Array(buffer));
        if (done) break;
        assert.equal(value.buffer.byteLength, 256 * 1024, "our buffer");
        lengths.push(value.length);
        joined.set(value, at);
        at += value.length;
        buffer = value.buffer as ArrayBuffer;
      }
      assert.deepEqual(lengths, [256 * 1024, 256 * 1024, 88 * 1024 + 123]);
      assert.deepEqual(joined, data);
      // Cancelled midway, with a read ahead in flight: the file is let go.
      const early = (await nodeFs().openRead(path))!.getReader({
        mode: "byob",
      });
      await early.read(new Uint8Array(1024));
      await early.cancel();
    });

    it("nodeFs openRead reads straight into any memory through its ReadInto and lets the file go at the end", async () => {
      const path = join(dir, `into-${syncMetadata}`);
      const data = new Uint8Array(1300 * 1024 + 7);
      for (let i = 0; i < data.length; i++) data[i] = (i * 37) & 0xff;
      await writeFile(path, data);
      const fds = openFds();
      const stream = (await nodeFs().openRead(path))!;
      const read = readInto(stream)!;
      assert.equal(typeof read, "function");
      // WebAssembly memory, which a BYOB reader could not take.
      const memory = new WebAssembly.Memory({ initial: 9 });
      const view = new Uint8Array(memory.buffer, 4096, 512 * 1024);
      const lengths: number[] = [];
      const joined = new Uint8Array(data.length);
      let at = 0;
      for (;;) {
        const n = await read(view);
        lengths.push(n);
        if (n === 0) break;
        joined.set(view.subarray(0, n), at);
        at += n;
      }
      // The chunk read at the start, then the view's size each time.
      assert.deepEqual(lengths, [
        256 * 1024,
        512 * 1024,
        512 * 1024,
        20 * 1024 + 7,
        0,
      ]);
      assert.deepEqual(joined, data);
      assert.equal(openFds(), fds, "the file is closed at the end");
      assert.equal(await read(view), 0);
      // Cancelled with a read in flight: the file is let go once it ends.
      const early = (await nodeFs().openRead(path))!;
      const earlyRead = readInto(early)!;
      await earlyRead(view);
      const pending = earlyRead(view);
      await early.cancel();
      assert.equal(await pending, 512 * 1024);
      assert.equal(openFds(), fds, "the file is closed after a cancel");
    });

    it("nodeFs openRead reads one chunk ahead of its consumer, no more", async () => {
      // The disk works while the consumer sends the chunk it holds. Seen from
      // outside: what was read ahead before the file was cut short is still
      // served; the chunk after it is not.
      const path = join(dir, `ahead-${syncMetadata}`);
      const chunk = 256 * 1024;
      await writeFile(path, new Uint8Array(4 * chunk).fill(0x61));
      const stream = await nodeFs().openRead(path);
      const reader = stream!.getReader();
      const first = await reader.read();
      assert.equal(first.value?.length, chunk);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await truncate(path, chunk);
      let rest = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        rest += value.length;
      }
      assert.equal(rest, chunk);
    });

    it("nodeFs metadata calls, lock files and small files round-trip", async () => {
      const fs = nodeFs();
      const sub = join(dir, `meta-${syncMetadata}`);
      await fs.mkdir(join(sub, "cur"));
      await fs.mkdir(join(sub, "cur")); // exists: no error
      const info = await fs.stat(join(sub, "cur"));
      assert.equal(info?.isDirectory, true);
      assert.equal(info?.isSymlink, false);
      const enc = new TextEncoder();
      const lock = join(sub, "pop3d.lock");
      assert.equal(await fs.createExclusive(lock, enc.encode("one")), true);
      assert.equal(await fs.createExclusive(lock, enc.encode("two")), false);
      assert.equal(new TextDecoder().decode(await fs.readFile(lock)), "one");
      assert.equal((await stat(lock)).mode & 0o777, 0o600);
      // A file larger than one read buffer comes back whole.
      const large = new Uint8Array(600 * 1024);
      for (let i = 0; i < large.length; i++) large[i] = (i * 13) & 0xff;
      await writeFile(join(sub, "large"), large);
      assert.deepEqual(await fs.readFile(join(sub, "large")), large);
      assert.deepEqual(await fs.readFile(lock), enc.encode("one"));
      await rm(join(sub, "large"));
      await fs.replaceFile(lock, enc.encode("three"));
      assert.equal(await readFile(lock, "utf8"), "three");
      assert.equal((await stat(lock)).mode & 0o777, 0o600);
      assert.equal(await fs.rename(lock, join(sub, "cur", "m")), true);
      assert.equal(
        await fs.realPath(join(sub, "cur", "..", "cur", "m")),
        await realpath(join(sub, "cur", "m")),
      );
      assert.deepEqual(await fs.readDir(join(sub, "cur")), ["m"]);
      assert.equal(await fs.unlink(join(sub, "cur", "m")), true);
      // No temporary files are left behind.
      assert.deepEqual((await fs.readDir(sub))?.sort(), ["cur"]);
      assert.equal(fs.hostname(), hostname());
    });
  });
}

describe("nodeFs temporary names", () => {
  it("are unique without a random draw per name", async () => {
    const { tempName } = await import("../../src/runtime/_node_fs_common.ts");
    const draw = crypto.getRandomValues;
    let draws = 0;
    crypto.getRandomValues = ((array: Uint8Array) => {
      draws++;
      return draw.call(crypto, array);
    }) as typeof crypto.getRandomValues;
    try {
      const names = new Set<string>();
      for (let i = 0; i < 1000; i++) names.add(tempName("mx", "/m/pop3d.lock"));
      assert.equal(names.size, 1000);
      assert.equal(draws, 0);
      for (const name of names) {
        assert.match(name, /^\/m\/pop3d\.lock\.mx\.\d+\.\d+-\d+\.tmp$/);
      }
    } finally {
      crypto.getRandomValues = draw;
    }
  });
});
