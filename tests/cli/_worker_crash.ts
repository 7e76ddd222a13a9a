/**
 * A thread module for tests/cli/host_worker_test.ts: answers like a worker
 * (echoes each message back with its workerData), on "crash" throws
 * from a task so that the error is uncaught, and on "spin" loops forever
 * (a stuck worker); on "heap" it makes garbage and answers with the size
 * of its young generation's new space (V8; 0 where the runtime has none).
 * As it ends it says "exiting" through `workerLink().onExit`.
 */

import { getHeapSpaceStatistics } from "node:v8";
import { parentPort, workerData } from "node:worker_threads";
import { workerLink } from "../../src/cli/host.ts";

parentPort!.postMessage({ type: "ready", data: workerData });
// What a worker sends as it ends, also of an uncaught error.
workerLink()!.onExit!(() => parentPort!.postMessage({ type: "exiting" }));
parentPort!.on("message", (message: { type: string }) => {
  if (message.type === "heap") {
    const kept: unknown[] = [];
    for (let i = 0; i < 3_000_000; i++) {
      const garbage = { i, pair: [i, i] };
      if (i % 100 === 0) kept.push(garbage);
    }
    const space = getHeapSpaceStatistics().find((s) =>
      s.space_name === "new_space"
    );
    parentPort!.postMessage({ type: "heap", newSpace: space?.space_size ?? 0 });
    return;
  }
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
