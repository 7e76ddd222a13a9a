// Worker thread for maildir_lock_test.ts: locks `workerData.mbox` under
// `workerData.root` (another module instance in this very process, as a
// worker of `pop3d --workers` is), says "locked" or "busy", and unlocks
// when told "unlock", then says "unlocked". Told "crash", it throws
// instead, and the thread dies holding the lock (a crashed worker).
import { parentPort, workerData } from "node:worker_threads";
import { MaildirStorage } from "../../src/maildir/maildir_storage.ts";
import { byMbox } from "../_helpers/by_mbox.ts";

const { root, mbox } = workerData as { root: string; mbox: string };
const port = parentPort!;
const storage = byMbox(new MaildirStorage({ root }));
const locked = await storage.lock(mbox);
port.on("message", async (message) => {
  if (message === "crash") {
    setTimeout(() => {
      throw new Error("worker crashed on purpose");
    }, 0);
    return;
  }
  if (locked) await storage.unlock(mbox);
  port.postMessage("unlocked");
  port.close();
});
port.postMessage(locked ? "locked" : "busy");
