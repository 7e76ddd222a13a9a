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
import type { WorkerRole } from "./worker_role.ts";

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
  const host: Host = {
    ...base,
    args: link.data.args,
    out: (text) => link.post({ type: "out", text }),
    err: (text) => link.post({ type: "err", text }),
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
      case "peer-login":
        for (const handler of peers) handler(message.remote, message.ok);
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
  const role: WorkerRole = {
    index: link.data.index,
    count: link.data.count,
    ready: () => link.post({ type: "ready" }),
    shareLogin: (remote, ok) => link.post({ type: "login", remote, ok }),
    onPeerLogin: (handler) => void peers.push(handler),
    onMetrics: (r) => void (render = r),
  };
  const code = await run(host, role);
  link.post({ type: "done", code });
}

const link = workerLink();
if (link) await runWorker(link, nodeHost(), main);
