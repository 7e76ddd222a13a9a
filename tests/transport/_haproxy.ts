// Starts a real HAProxy (Debian's `haproxy`) from a config in a temporary
// directory: TCP frontends on loopback, `send-proxy-v2` to the backends.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { freePort } from "../_helpers/free_port.ts";

/** Whether `haproxy` runs here. */
export function haveHaproxy(): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn("haproxy", ["-v"], { stdio: "ignore" });
    p.on("error", () => resolve(false));
    p.on("close", (code) => resolve(code === 0));
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** A running HAProxy. */
export interface Haproxy {
  /** Frontend ports by name. */
  ports: Record<string, number>;
  /** The process id. */
  pid: number;
  stop(): Promise<void>;
  output(): string;
}

/**
 * Starts HAProxy with one TCP frontend per entry of `backends`, each
 * balancing round-robin over its servers with `send-proxy-v2` (and health
 * checks that send a PROXY LOCAL header).
 */
export async function startHaproxy(
  backends: Record<string, number[]>,
  options: { proxy?: "send-proxy-v2" | "send-proxy" } = {},
): Promise<Haproxy> {
  const dir = await mkdtemp(`${tmpdir()}/haproxy-`);
  const ports: Record<string, number> = {};
  let config = `global
  maxconn 4000
defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch
`;
  for (const [name, servers] of Object.entries(backends)) {
    ports[name] = await freePort();
    config += `frontend ${name}
  bind 127.0.0.1:${ports[name]}
  default_backend ${name}_servers
backend ${name}_servers
  balance roundrobin
${
      servers.map((p, i) =>
        `  server s${i + 1} 127.0.0.1:${p} ${
          options.proxy ?? "send-proxy-v2"
        } check check-send-proxy inter 300 fall 1 rise 1`
      ).join("\n")
    }
`;
  }
  await writeFile(`${dir}/haproxy.cfg`, config);
  const proc: ChildProcess = spawn("haproxy", [
    "-db",
    "-f",
    `${dir}/haproxy.cfg`,
  ], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on(
    "data",
    (d: Uint8Array) => out += new TextDecoder().decode(d),
  );
  proc.stderr!.on(
    "data",
    (d: Uint8Array) => out += new TextDecoder().decode(d),
  );
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  for (let i = 0; i < 100; i++) {
    if (
      (await Promise.all(Object.values(ports).map(canConnect))).every(Boolean)
    ) {
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    ports,
    pid: proc.pid!,
    output: () => out,
    async stop() {
      proc.kill("SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
