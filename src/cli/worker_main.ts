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
 * Milliseconds between two messages of held log lines and logins. A line
 * after a quiet spell goes at the next turn of the event loop; under load
 * the lines of 20 ms go in one message: a `postMessage` per turn took 6% of
 * a worker's time at 1,300 TLS handshakes a second, and fewer gave 5% more
 * handshakes.
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
  // What the worker holds for the supervisor goes in one go, at most every
  // BATCH_INTERVAL: log lines, and the addresses of successful logins (for
  // the other workers' auth penalty, which a success clears; each address
  // once). A failed login goes at once, as do "ready", "out" and "done", each
  // after what was held before it, so that everything arrives in order. One
  // message per turn for log lines, and one per login passed on to every
  // other worker, cost a worker 6% and 3-4% of its time under load.
  let pending = "";
  const cleared = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sent = -Infinity;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending !== "") {
      link.post({ type: "err", text: pending });
      pending = "";
      sent = Date.now();
    }
    if (cleared.size > 0) {
      link.post({ type: "login", remotes: [...cleared], ok: true });
      cleared.clear();
      sent = Date.now();
    }
  };
  const later = () => {
    timer ??= setTimeout(
      flush,
      Math.max(0, sent + BATCH_INTERVAL - Date.now()),
    );
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
      else later();
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
  const shareLogin = (remote: string, ok: boolean) => {
    if (!ok) return post({ type: "login", remotes: [remote], ok: false });
    cleared.add(remote);
    later();
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
  link.onExit?.(flush);
  const code = await run(host, role);
  post({ type: "done", code });
}

const link = workerLink();
if (link) await runWorker(link, nodeHost(), main);
