/**
 * `scanMaildir` on real Maildirs: what it keeps in a Maildir's cache.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scanMaildir } from "../../src/maildir/maildir_scan.ts";
import type { MaildirCache } from "../../src/maildir/maildir_caches.ts";
import { nodeFs } from "../../src/runtime/node_fs.ts";

let base = "";
before(async () => {
  base = await mkdtemp(join(tmpdir(), "pop3d-scan-"));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A Maildir with one message in `cur/` under `name`. */
async function maildir(box: string, name: string): Promise<string> {
  const dir = join(base, box);
  for (const sub of ["cur", "new", "tmp"]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  await writeFile(join(dir, "cur", name), "Subject: hi\n\nHello\n");
  return dir;
}

describe("scanMaildir", () => {
  it("keeps counted sizes per Maildir, and one shared empty map where names carry them", async () => {
    const fs = nodeFs();
    const caches: MaildirCache[] = [];
    for (const box of ["a", "b"]) {
      const dir = await maildir(box, "1700000000.M1P1.h,S=19,W=22:2,S");
      const cache: MaildirCache = { sizes: new Map() };
      const snapshot = await scanMaildir(fs, dir, cache);
      assert.equal(snapshot.size(0), 22);
      caches.push(cache);
    }
    // Nothing was counted: no map of its own for each Maildir.
    assert.equal(caches[0].sizes.size, 0);
    assert.equal(caches[0].sizes, caches[1].sizes);
    assert.throws(() => caches[0].sizes.set("x", 1), TypeError);
    // A name without `,W=`: its size is counted and kept for the next login.
    const dir = await maildir("c", "1700000000.M2P1.h:2,S");
    const cache: MaildirCache = { sizes: new Map() };
    const snapshot = await scanMaildir(fs, dir, cache);
    assert.equal(snapshot.size(0), 22);
    assert.deepEqual([...cache.sizes], [["1700000000.M2P1.h", 22]]);
    assert.notEqual(cache.sizes, caches[0].sizes);
  });
});
