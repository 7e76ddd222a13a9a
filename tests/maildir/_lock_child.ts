// Child process for maildir_lock_test.ts: tries to lock a Maildir, prints
// "locked" or "busy", then holds the lock until killed (or exits at once
// with "--exit"). POP3D_TEST_PID and POP3D_TEST_HOSTKEY make it pretend to
// be another process with that pid on a host with that key (another
// container with the same host name, say).
import process from "node:process";
import { MaildirStorage } from "../../src/maildir/maildir_storage.ts";
import { nodeFs } from "../../src/runtime/node_fs.ts";
import { byMbox } from "../_helpers/by_mbox.ts";

const [root, mbox, mode] = process.argv.slice(-3);
const fs = nodeFs();
const fakePid = process.env.POP3D_TEST_PID;
const fakeKey = process.env.POP3D_TEST_HOSTKEY;
if (fakePid) fs.pid = () => Number(fakePid);
if (fakeKey) fs.hostKey = () => fakeKey;
const storage = byMbox(new MaildirStorage({ root, fs }));
const locked = await storage.lock(mbox);
process.stdout.write(locked ? `locked ${storage.stat(mbox)}\n` : "busy\n");
if (mode === "--exit" || !locked) {
  if (locked) await storage.unlock(mbox);
  process.exit(0);
}
setInterval(() => {}, 1000);
