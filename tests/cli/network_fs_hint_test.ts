import { after, before, describe, it } from "node:test";
import process from "node:process";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Host } from "../../src/cli/host.ts";
import {
  NETWORK_FILE_SYSTEMS,
  networkFsHint,
} from "../../src/cli/network_fs_hint.ts";
import { makeSite, Program, type Site } from "../_helpers/cli_program.ts";
import { available, run } from "../_helpers/tls.ts";

const NFS = 0x6969;
const EXT4 = 0xef53;
const FUSE = 0x65735546;

/** A host whose file systems are `types`, by path. */
function host(types: Record<string, number>): Host {
  return {
    fileSystemType: (path: string) => Promise.resolve(types[path]),
  } as unknown as Host;
}

describe("networkFsHint", () => {
  it("names the file system and the setting when sync-metadata is on", async () => {
    const hint = await networkFsHint(
      { maildir: "/var/mail" },
      host({ "/var/mail": NFS }),
    );
    assert.match(hint ?? "", /on NFS/);
    assert.match(hint ?? "", /sync-metadata = false/);
  });

  it("says nothing on a local disk, with sync-metadata off, or without Maildirs", async () => {
    assert.equal(
      await networkFsHint({ maildir: "/m" }, host({ "/m": EXT4 })),
      undefined,
    );
    assert.equal(
      await networkFsHint(
        { maildir: "/m", "sync-metadata": false },
        host({ "/m": NFS }),
      ),
      undefined,
    );
    assert.equal(
      await networkFsHint({ postgres: "postgres://db" }, host({})),
      undefined,
    );
    assert.equal(
      await networkFsHint({ maildir: "/m" }, {} as Host),
      undefined,
    );
  });

  it("knows FUSE, SMB and CIFS", () => {
    assert.equal(NETWORK_FILE_SYSTEMS.get(FUSE), "FUSE");
    assert.equal(NETWORK_FILE_SYSTEMS.get(0x517b), "SMB");
    assert.equal(NETWORK_FILE_SYSTEMS.get(0xff534d42), "CIFS");
  });
});

const MIRROR = fileURLToPath(
  new URL("../../bench/slow_fs.py", import.meta.url),
);
const canMount = existsSync("/dev/fuse") &&
  await available("/usr/bin/python3", ["-c", "import fusepy"]) &&
  await available("fusermount3", ["--version"]);

describe("the program on a FUSE mount", { skip: !canMount }, () => {
  let site: Site;
  let mount: string;
  let mirror: ReturnType<typeof spawn>;
  before(async () => {
    site = await makeSite();
    mount = join(site.dir, "mounted");
    await mkdir(mount);
    mirror = spawn("/usr/bin/python3", [MIRROR, site.maildir, mount, "0"], {
      stdio: "ignore",
    });
    for (let i = 0; i < 100; i++) {
      if (readFileSync("/proc/mounts", "utf8").includes(` ${mount} fuse`)) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("the FUSE mirror did not mount");
  });
  after(async () => {
    await run("fusermount3", ["-u", mount]).catch(() => {});
    mirror.kill();
    await site.remove();
  });

  const argsOn = (root: string, ...more: string[]) => {
    const args = [...site.args];
    args[args.indexOf("--maildir") + 1] = root;
    return [...args, ...more];
  };

  it("logs a hint naming FUSE and sync-metadata", async () => {
    const program = new Program(argsOn(mount));
    try {
      await program.ready();
      const hint = await program.waitFor((r) =>
        r.event === "hint" && /FUSE/.test(String(r.hint))
      );
      assert.equal(hint.setting, "sync-metadata");
    } finally {
      await program.stop();
    }
  });

  it("serves the mail there and logs no such hint with sync-metadata false", async () => {
    const program = new Program(
      argsOn(mount, "--sync-metadata", "false"),
      undefined,
      { ...process.env, UV_THREADPOOL_SIZE: "16" },
    );
    try {
      const { pop3 } = await program.ready();
      const reply = await run("curl", [
        "-s",
        "--max-time",
        "10",
        `pop3://127.0.0.1:${pop3}/1`,
        "-u",
        "alice:alice-pw",
      ]);
      assert.match(new TextDecoder().decode(reply.stdout), /First message/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(program.records.filter((r) => r.event === "hint"), []);
    } finally {
      await program.stop();
    }
  });
});
