/**
 * A worker thread of `pop3d --workers N`: serves on the shared ports as
 * worker `index` of `count`. Its output goes to the supervisor, which
 * writes it; its signals come from the supervisor, which gets them.
 *
 * @module
 */

import { type Host, nodeHost, workerLink } from "./host.ts";
import { main } from "./main.ts";
import type { WorkerRole } from "./worker_role.ts";

const link = workerLink();
if (link) {
  const base = nodeHost();
  const signals = new Map<string, (() => void)[]>();
  const peers: ((remote: string, ok: boolean) => void)[] = [];
  let render: (() => string) | undefined;
  const host: Host = {
    ...base,
    args: link.data.args,
    out: (text) => link.post({ type: "out", text }),
    err: (text) => link.post({ type: "err", text }),
    onSignal(signal, handler) {
      signals.set(signal, [...signals.get(signal) ?? [], handler]);
    },
    exit(code) {
      throw new Error(`a worker thread does not exit the process (${code})`);
    },
    startWorker: undefined,
  };
  link.onMessage((message) => {
    switch (message.type) {
      case "signal":
        for (const handler of signals.get(message.signal) ?? []) handler();
        break;
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
  const code = await main(host, role);
  link.post({ type: "done", code });
}
