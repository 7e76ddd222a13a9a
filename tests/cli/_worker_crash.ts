/**
 * A thread module for tests/cli/host_worker_test.ts: answers like a worker
 * (echoes each message back with its workerData), on "crash" throws
 * from a task so that the error is uncaught, and on "spin" loops forever
 * (a stuck worker).
 */

import { parentPort, workerData } from "node:worker_threads";

parentPort!.postMessage({ type: "ready", data: workerData });
parentPort!.on("message", (message: { type: string }) => {
  if (message.type === "spin") {
    parentPort!.postMessage({ type: "spinning" });
    for (;;) {
      // never yields to the event loop
    }
  }
  if (message.type === "crash") {
    setTimeout(() => {
      throw new Error("worker crashed on purpose");
    }, 0);
    return;
  }
  parentPort!.postMessage({ type: "echo", message });
});
