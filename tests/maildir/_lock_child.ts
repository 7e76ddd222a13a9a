// Child process for maildir_lock_test.ts: tries to lock a Maildir, prints
// "locked" or "busy", then holds the lock until killed (or exits at once
// with "--exit").
import process from "node:process";
import { MaildirStorage } from "../../src/maildir/maildir_storage.ts";

const [root, mbox, mode] = process.argv.slice(-3);
const storage = new MaildirStorage({ root });
const locked = await storage.lock(mbox);
process.stdout.write(locked ? `locked ${storage.stat(mbox)}\n` : "busy\n");
if (mode === "--exit" || !locked) {
  if (locked) await storage.unlock(mbox);
  process.exit(0);
}
setInterval(() => {}, 1000);
