// nodeFs: the MaildirFs methods added for the Dovecot uidlist.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
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
});
