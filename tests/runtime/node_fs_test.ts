// nodeFs: the MaildirFs methods added for the Dovecot uidlist.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeFs } from "../../src/runtime/node_fs.ts";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pop3d-nodefs-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("nodeFs", () => {
  it("nodeFs appendFile appends to an existing file and keeps its inode", async () => {
    const path = join(dir, "list");
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
    const path = join(dir, "missing");
    assert.equal(await nodeFs().appendFile!(path, new Uint8Array([65])), false);
    assert.equal(await stat(path).then(() => true, () => false), false);
  });

  it("nodeFs readDirKinds tells files, directories and links apart without following links", async () => {
    const sub = join(dir, "kinds");
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
    const sub = join(dir, "whole");
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
  });
});
