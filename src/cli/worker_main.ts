/**
 * A worker thread of `pop3d --workers N`: serves on the shared ports as
 * worker `index` of `count`. Its output goes to the supervisor, which
 * writes it; its signals come from the supervisor, which gets them.
 * Loaded as a thread's module it runs at once.
 *
 * @module
 */

import { type Host, nodeHost, type WorkerLink, workerLink } from "./host.ts";
import { main } from "./main.ts";
import type { FromWorker, WorkerRole } from "./worker_role.ts";

/** Characters of log lines a worker holds before it sends them at once. */
const BATCH_MAX = 16_384;

/**
 * Milliseconds between two batches of log lines. A line after a quiet spell
 * goes at the next turn of the event loop; under load the lines of 20 ms go
 * in one message: a `postMessage` per turn took 6% of a worker's time at
 * 1,300 TLS handshakes a second, and fewer gave 5% more handshakes.
 */
const BATCH_INTERVAL = 20;

/**
 * Runs `run` (the program's `main`) as a worker over `link`: a host whose
 * output and signals pass through the supervisor, and the role that shares
 * logins and metrics. Says `done` with the exit code at the end.
 *
 * @param link The supervisor's end.
 * @param base The runtime, for what passes through no supervisor.
 * @param run The program.
 *
 * @example
 * ```ts ignore
 * await runWorker(workerLink()!, nodeHost(), main);
 * ```
 */
export async function runWorker(
  link: WorkerLink,
  base: Host,
  run: (host: Host, role: WorkerRole) => Promise<number>,
): Promise<void> {
  const signals = new Map<string, (() => void)[]>();
  const early = new Set<string>();
  const peers: ((remote: string, ok: boolean) => void)[] = [];
  let render: (() => string) | undefined;
  // Log lines go to the supervisor in batches, at most one message per
  // BATCH_INTERVAL instead of one per line; "ready", "out" and "done" go
  // after the lines written before them.
  let pending = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sent = -Infinity;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending === "") return;
    link.post({ type: "err", text: pending });
    pending = "";
    sent = Date.now();
  };
  const post = (message: FromWorker) => {
    flush();
    link.post(message);
  };
  const host: Host = {
    ...base,
    args: link.data.args,
    out: (text) => post({ type: "out", text }),
    err(text) {
      pending += text;
      if (pending.length >= BATCH_MAX) flush();
      else {
        timer ??= setTimeout(
          flush,
          Math.max(0, sent + BATCH_INTERVAL - Date.now()),
        );
      }
    },
    onSignal(signal, handler) {
      signals.set(signal, [...signals.get(signal) ?? [], handler]);
      // A signal that came while the worker was still starting.
      if (early.delete(signal)) queueMicrotask(handler);
    },
    exit(code) {
      throw new Error(`a worker thread does not exit the process (${code})`);
    },
    startWorker: undefined,
  };
  link.onMessage((message) => {
    switch (message.type) {
      case "signal": {
        const handlers = signals.get(message.signal) ?? [];
        if (handlers.length === 0) early.add(message.signal);
        for (const handler of handlers) handler();
        break;
      }
      case "ping":
        link.post({ type: "pong" });
        break;
      case "peer-login":
        for (const remote of message.remotes) {
          for (const handler of peers) handler(remote, message.ok);
        }
        break;
      case "metrics":
        link.post({
          type: "metrics",
          request: message.request,
          text: render?.() ?? "",
        });
        break;
    }
  });
  // Logins go to the other workers for their auth penalty. A failure goes at
  // once; successes (which only clear a penalty) go in batches, one message
  // per BATCH_INTERVAL with each address once, and always before a failure
  // that follows them, so that the others see the outcomes in order. One
  // message per login cost 3-4% of a worker at 700 sessions a second, and as
  // much again in each worker it was passed on to.
  const cleared = new Set<string>();
  let clearTimer: ReturnType<typeof setTimeout> | undefined;
  const sendCleared = () => {
    clearTimeout(clearTimer);
    clearTimer = undefined;
    if (cleared.size === 0) return;
    link.post({ type: "login", remotes: [...cleared], ok: true });
    cleared.clear();
  };
  const shareLogin = (remote: string, ok: boolean) => {
    if (ok) {
      cleared.add(remote);
      clearTimer ??= setTimeout(sendCleared, BATCH_INTERVAL);
      return;
    }
    sendCleared();
    link.post({ type: "login", remotes: [remote], ok: false });
  };
  const role: WorkerRole = {
    index: link.data.index,
    count: link.data.count,
    fixed: link.data.fixed,
    ready: () => post({ type: "ready" }),
    shareLogin,
    onPeerLogin: (handler) => void peers.push(handler),
    onMetrics: (r) => void (render = r),
  };
  // A thread that dies of an uncaught error still sends what it holds: its
  // last log lines are the ones that say why.
  link.onExit?.(() => {
    flush();
    sendCleared();
  });
  const code = await run(host, role);
  sendCleared();
  post({ type: "done", code });
}

const link = workerLink();
if (link) await runWorker(link, nodeHost(), main);
