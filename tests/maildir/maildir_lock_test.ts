import { after, before, describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { byMbox } from "../_helpers/by_mbox.ts";
import { MAILDIR_LOCK_NAME, MaildirStorage } from "../../maildir.ts";
import { nodeFs } from "../../src/runtime/node_fs.ts";

const CHILD = fileURLToPath(new URL("./_lock_child.ts", import.meta.url));
const THREAD = new URL("./_lock_thread.ts", import.meta.url);

let base = "";
let root = "";
before(async () => {
  base = await mkdtemp(join(tmpdir(), "pop3d-lock-"));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function maildir(name: string): Promise<string> {
  const dir = join(root, name);
  for (const sub of ["cur", "new", "tmp"]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  await writeFile(
    join(dir, "new", "1700000000.M1P1.test"),
    "Subject: x\n\nx\n",
  );
  return dir;
}

/** Starts the child on this runtime and resolves with it and its first line. */
function startChild(
  mbox: string,
  mode = "--hold",
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; line: string }> {
  const args = "Deno" in globalThis
    ? ["run", "-A", CHILD, root, mbox, mode]
    : [CHILD, root, mbox, mode];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  // Some runtimes set signalCode as soon as kill() is called, so only the
  // "exit" event says the process is gone.
  EXITS.set(
    child,
    new Promise((resolve) => child.once("exit", () => resolve())),
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (data: string) => {
      out += data;
      const end = out.indexOf("\n");
      if (end !== -1) resolve({ child, line: out.slice(0, end) });
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (!out.includes("\n")) reject(new Error(`Child exited with ${code}`));
    });
  });
}

const EXITS = new WeakMap<ChildProcess, Promise<void>>();

/** Resolves once the child has exited and was reaped ("exit" event). */
function exited(child: ChildProcess): Promise<void> {
  return EXITS.get(child) ?? Promise.resolve();
}

// Every test in both modes of the default file access.
for (const syncMetadata of [true, false]) {
  describe(`MaildirStorage lock (syncMetadata: ${syncMetadata})`, () => {
    before(async () => {
      root = join(base, String(syncMetadata));
      await mkdir(root);
    });

    it("excludes a second session in the same process and a second instance", async () => {
      await maildir("same");
      const a = byMbox(new MaildirStorage({ syncMetadata, root }));
      const b = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await a.lock("same"), true);
      assert.equal(await a.lock("same"), false);
      assert.equal(await b.lock("same"), false);
      assert.equal(await b.lock(join(root, "same")), false);
      await a.unlock("same");
      assert.equal(await b.lock("same"), true);
      await b.unlock("same");
      await assert.rejects(stat(join(root, "same", MAILDIR_LOCK_NAME)));
    });

    it("MaildirStorage locks one Maildir once under every name: alice, ./alice, an absolute path, a link", async () => {
      await maildir("names");
      await symlink(join(root, "names"), join(root, "names-link"));
      const storage = new MaildirStorage({ syncMetadata, root });
      const signal = new AbortController().signal;
      const open = (mbox: string) =>
        storage.openMaildrop(mbox, { user: "alice", signal });
      const held = await open("names");
      assert.ok(held);
      for (const other of ["./names", join(root, "names"), "names-link"]) {
        assert.equal(await open(other), null, other);
      }
      await held.close();
      // A Maildir that does not exist (create: false) has no lock file: the
      // in-process lock alone excludes, by the resolved path.
      const strict = new MaildirStorage({ syncMetadata, root, create: false });
      const absent = await strict.openMaildrop("absent", { user: "a", signal });
      assert.equal(absent?.count, 0);
      assert.equal(
        await strict.openMaildrop("./absent", { user: "a", signal }),
        null,
      );
      await absent?.close();
      const again = await strict.openMaildrop("./absent", {
        user: "a",
        signal,
      });
      assert.ok(again);
      await again.close();
    });

    it("MaildirStorage.openMaildrop for a session killed meanwhile leaves nothing locked", async () => {
      await maildir("killed");
      const storage = new MaildirStorage({ syncMetadata, root });
      const aborted = new AbortController();
      aborted.abort();
      assert.equal(
        await storage.openMaildrop("killed", {
          user: "a",
          signal: aborted.signal,
        }),
        null,
      );
      await assert.rejects(stat(join(root, "killed", MAILDIR_LOCK_NAME)));
      const signal = new AbortController().signal;
      const handle = await storage.openMaildrop("killed", {
        user: "a",
        signal,
      });
      assert.equal(handle?.count, 1);
      await handle?.close();
    });

    it("excludes another process, and is free again once it unlocks", async () => {
      await maildir("cross");
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("cross"), true);
      const busy = await startChild("cross");
      assert.equal(busy.line, "busy");
      await exited(busy.child);
      await storage.unlock("cross");
      const free = await startChild("cross", "--exit");
      assert.equal(free.line, "locked 1");
      await exited(free.child);
    });

    it("refuses while another process holds the lock, and recovers it after kill -9", async () => {
      await maildir("crash");
      const { child, line } = await startChild("crash");
      try {
        assert.equal(line, "locked 1");
        const text = await readFile(
          join(root, "crash", MAILDIR_LOCK_NAME),
          "utf8",
        );
        const [pid, host] = text.split("\n");
        assert.equal(Number(pid), child.pid);
        assert.equal(host, hostname());
        const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
        assert.equal(await storage.lock("crash"), false);
        child.kill("SIGKILL");
        await exited(child);
        // The lock file is still there, but its process is dead on this host.
        await stat(join(root, "crash", MAILDIR_LOCK_NAME));
        assert.equal(await storage.lock("crash"), true);
        const mine = await readFile(
          join(root, "crash", MAILDIR_LOCK_NAME),
          "utf8",
        );
        assert.equal(Number(mine.split("\n")[0]), process.pid);
        await storage.unlock("crash");
      } finally {
        child.kill("SIGKILL");
        await exited(child);
      }
    });

    it("MaildirStorage does not steal the live lock of another container with the same host name and pid", async () => {
      // Two containers on shared storage, same host name, both pid 1: here
      // the child claims this process's pid under another host key.
      await maildir("twin");
      const { child, line } = await startChild("twin", "--hold", {
        POP3D_TEST_PID: String(process.pid),
        POP3D_TEST_HOSTKEY: "other-container-boot/pid:[1]",
      });
      try {
        assert.equal(line, "locked 1");
        const text = await readFile(
          join(root, "twin", MAILDIR_LOCK_NAME),
          "utf8",
        );
        assert.equal(Number(text.split("\n")[0]), process.pid);
        assert.equal(text.split("\n")[1], hostname());
        const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
        assert.equal(await storage.lock("twin"), false);
        // The lock file is still the child's.
        assert.equal(
          await readFile(join(root, "twin", MAILDIR_LOCK_NAME), "utf8"),
          text,
        );
      } finally {
        child.kill("SIGKILL");
        await exited(child);
      }
    });

    it("MaildirStorage does not steal the lock that another thread of this process holds (pop3d --workers)", async () => {
      await maildir("thread");
      const thread = new Worker(THREAD, {
        workerData: { root, mbox: "thread" },
      });
      const said = () =>
        new Promise<string>((resolve, reject) => {
          thread.once("message", resolve);
          thread.once("error", reject);
        });
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      let held = false;
      try {
        assert.equal(await said(), "locked");
        const lockFile = join(root, "thread", MAILDIR_LOCK_NAME);
        const text = await readFile(lockFile, "utf8");
        held = await storage.lock("thread");
        assert.equal(held, false);
        assert.equal(await readFile(lockFile, "utf8"), text);
        thread.postMessage("unlock");
        assert.equal(await said(), "unlocked");
        held = await storage.lock("thread");
        assert.equal(held, true);
      } finally {
        if (held) await storage.unlock("thread");
        await thread.terminate();
      }
    });

    it("MaildirStorage takes over at once the lock of a thread of this process that died (a crashed worker)", async () => {
      const dir = await maildir("crashed");
      if (nodeFs().threadId?.() === undefined) return; // no thread ids here
      const thread = new Worker(THREAD, {
        workerData: { root, mbox: "crashed" },
      });
      const storage = byMbox(
        new MaildirStorage({ syncMetadata, root, staleLockMs: 3_600_000 }),
      );
      let held = false;
      try {
        assert.equal(
          await new Promise((resolve, reject) => {
            thread.once("message", resolve);
            thread.once("error", reject);
          }),
          "locked",
        );
        const text = await readFile(join(dir, MAILDIR_LOCK_NAME), "utf8");
        assert.match(text.split("\n")[7], /^\d+$/, "the lock names its thread");
        const gone = new Promise((resolve) => thread.once("exit", resolve));
        thread.once("error", () => {}); // the crash itself
        thread.postMessage("crash");
        await gone;
        // The runtime may say "exit" a moment before the system thread is
        // gone; the lock is free once it is (the hour of staleLockMs is
        // never reached here).
        for (let i = 0; i < 50 && !held; i++) {
          held = await storage.lock("crashed");
          if (!held) await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(held, true);
        const mine = await readFile(join(dir, MAILDIR_LOCK_NAME), "utf8");
        assert.equal(mine.split("\n")[7], nodeFs().threadId?.());
      } finally {
        if (held) await storage.unlock("crashed");
        await thread.terminate();
      }
    });

    it("takes over a lock of this pid from an earlier process (a restarted container's pid 1)", async () => {
      const dir = await maildir("reborn");
      const fs = nodeFs();
      const key = fs.hostKey?.();
      if (key === undefined) return; // no pids to compare on this host
      const lockFile = join(dir, MAILDIR_LOCK_NAME);
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      // Written by an earlier version (no start time), and by an earlier
      // process that had this pid (another start time).
      for (const started of ["", "1\n"]) {
        await writeFile(
          lockFile,
          `${process.pid}\n${hostname()}\n${Date.now()}\nold\nearlier\n${key}\n${started}`,
        );
        assert.equal(await storage.lock("reborn"), true);
        await storage.unlock("reborn");
      }
    });

    it("treats another host's lock as held until it is older than staleLockMs", async () => {
      const dir = await maildir("remote");
      const lockPath = join(dir, MAILDIR_LOCK_NAME);
      const storage = byMbox(
        new MaildirStorage({ syncMetadata, root, staleLockMs: 60_000 }),
      );
      await writeFile(lockPath, `1\nother-host.example\n${Date.now()}\nabc\n`);
      assert.equal(await storage.lock("remote"), false);
      await writeFile(
        lockPath,
        `1\nother-host.example\n${Date.now() - 120_000}\nabc\n`,
      );
      const { utimes } = await import("node:fs/promises");
      const old = new Date(Date.now() - 120_000);
      await utimes(lockPath, old, old);
      assert.equal(await storage.lock("remote"), true);
      await storage.unlock("remote");
    });

    it("treats an unreadable young lock file as held, an old one as stale", async () => {
      const dir = await maildir("garbage");
      const lockPath = join(dir, MAILDIR_LOCK_NAME);
      await writeFile(lockPath, "");
      const storage = byMbox(
        new MaildirStorage({ syncMetadata, root, staleLockMs: 60_000 }),
      );
      assert.equal(await storage.lock("garbage"), false);
      const { utimes } = await import("node:fs/promises");
      const old = new Date(Date.now() - 120_000);
      await utimes(lockPath, old, old);
      assert.equal(await storage.lock("garbage"), true);
      await storage.unlock("garbage");
    });

    it("MaildirStorage refreshes every held lock from one shared timer", async () => {
      await maildir("shared-a");
      await maildir("shared-b");
      const read = (name: string) =>
        readFile(join(root, name, MAILDIR_LOCK_NAME), "utf8");
      mock.timers.enable({ apis: ["setInterval", "Date"], now: Date.now() });
      const timers = mock.method(globalThis, "setInterval");
      try {
        // A refresh every 1 s (a third of staleLockMs).
        const storage = byMbox(
          new MaildirStorage({ syncMetadata, root, staleLockMs: 3000 }),
        );
        assert.equal(await storage.lock("shared-a"), true);
        assert.equal(await storage.lock("shared-b"), true);
        assert.equal(timers.mock.callCount(), 1, "one timer for two locks");
        const before = [await read("shared-a"), await read("shared-b")];
        mock.timers.tick(1000);
        // The refresh rewrites the time line of both lock files.
        for (let i = 0; i < 500; i++) {
          const now = [await read("shared-a"), await read("shared-b")];
          if (now[0] !== before[0] && now[1] !== before[1]) break;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const after = [await read("shared-a"), await read("shared-b")];
        for (const [i, text] of after.entries()) {
          const [pid, host, time, token] = text.split("\n");
          const [pid0, host0, time0, token0] = before[i].split("\n");
          assert.deepEqual([pid, host, token], [pid0, host0, token0]);
          assert.equal(Number(time), Number(time0) + 1000);
        }
        await storage.unlock("shared-a");
        await storage.unlock("shared-b");
        await assert.rejects(read("shared-a"), { code: "ENOENT" });
        await assert.rejects(read("shared-b"), { code: "ENOENT" });
      } finally {
        timers.mock.restore();
        mock.timers.reset();
      }
    });

    it("does not remove a lock it does not own on unlock", async () => {
      const dir = await maildir("owner");
      const storage = byMbox(new MaildirStorage({ syncMetadata, root }));
      assert.equal(await storage.lock("owner"), true);
      const foreign = `1\nother-host.example\n${Date.now()}\nforeign\n`;
      await writeFile(join(dir, MAILDIR_LOCK_NAME), foreign);
      await storage.unlock("owner");
      assert.equal(
        await readFile(join(dir, MAILDIR_LOCK_NAME), "utf8"),
        foreign,
      );
    });
  });
}
