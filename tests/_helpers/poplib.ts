/**
 * Drives python3's `poplib` against a server, asynchronously (the server
 * runs on the same event loop, so a synchronous spawn would deadlock).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";

/** One poplib call: a method name and its arguments. */
export type PopStep = [string, ...(string | number)[]];

/** The outcome of one step: its value, or the error poplib raised. */
export type PopResult =
  | { ok: unknown; ms: number }
  | { error: string; type: string; ms: number };

const SCRIPT = String.raw`
import json, poplib, sys, time
def text(b):
    return b.decode("latin-1") if isinstance(b, bytes) else b
def run(port, steps, timeout):
    out = []
    p = None
    for step in steps:
        name, args = step[0], step[1:]
        t = time.monotonic()
        try:
            if name == "connect":
                if p is not None:
                    p.close()
                p = poplib.POP3("127.0.0.1", port, timeout=timeout)
                value = text(p.getwelcome())
            elif name == "raw":
                # Send one command and read every byte until the server closes.
                p._putcmd(args[0])
                chunks = []
                while True:
                    b = p.file.read(65536)
                    if not b:
                        break
                    chunks.append(b)
                data = b"".join(chunks)
                value = {"length": len(data), "head": text(data[:80]), "tail": text(data[-8:])}
            else:
                value = getattr(p, name)(*args)
                if isinstance(value, tuple):
                    value = [text(v) if isinstance(v, bytes) else [text(x) for x in v] if isinstance(v, list) else v for v in value]
                elif isinstance(value, bytes):
                    value = text(value)
                elif isinstance(value, dict):
                    value = {text(k): [text(x) for x in v] for k, v in value.items()}
            out.append({"ok": value, "ms": (time.monotonic() - t) * 1000})
        except Exception as e:
            out.append({"error": str(e), "type": type(e).__name__, "ms": (time.monotonic() - t) * 1000})
    if p is not None:
        p.close()
    return out
while True:
    line = sys.stdin.readline()
    if not line:
        break
    req = json.loads(line)
    sys.stdout.write(json.dumps(run(req["port"], req["steps"], req["timeout"])) + "\n")
    sys.stdout.flush()
`;

/**
 * One python3 process that runs poplib sessions on request. Start it once
 * per test file (python starts slowly) and close it in `after()`.
 */
export class Poplib {
  #child: ChildProcessWithoutNullStreams;
  #buffer = "";
  #waiting: {
    resolve: (r: PopResult[]) => void;
    reject: (e: Error) => void;
  }[] = [];
  #stderr = "";

  constructor() {
    this.#child = spawn("python3", ["-u", "-c", SCRIPT]);
    this.#child.stdout.setEncoding("utf8");
    this.#child.stdout.on("data", (d: string) => {
      this.#buffer += d;
      let nl: number;
      while ((nl = this.#buffer.indexOf("\n")) !== -1) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        this.#waiting.shift()?.resolve(JSON.parse(line));
      }
    });
    this.#child.stderr.on("data", (d) => (this.#stderr += d));
    this.#child.on("close", (code) => {
      for (const w of this.#waiting.splice(0)) {
        w.reject(new Error(`python3 exited with ${code}: ${this.#stderr}`));
      }
    });
  }

  /**
   * Runs `steps` against 127.0.0.1:`port` and returns one result per step.
   * Errors do not stop the run. `["connect"]` opens a (new) session.
   */
  run(
    port: number,
    steps: PopStep[],
    timeoutSeconds = 10,
  ): Promise<PopResult[]> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#child.stdin.write(
        JSON.stringify({ port, steps, timeout: timeoutSeconds }) + "\n",
      );
    });
  }

  /** Ends the python process. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#child.exitCode !== null) return resolve();
      this.#child.once("close", () => resolve());
      this.#child.stdin.end();
    });
  }
}

/** The value of a successful step; throws with the error otherwise. */
export function value(result: PopResult): unknown {
  if ("error" in result) {
    throw new Error(`poplib raised ${result.type}: ${result.error}`);
  }
  return result.ok;
}

/** The error text of a failed step; throws if the step succeeded. */
export function failure(result: PopResult): string {
  if (!("error" in result)) {
    throw new Error(`Expected an error, got ${JSON.stringify(result.ok)}`);
  }
  return result.error;
}

/**
 * Why tests that listen on TCP cannot run on this runtime yet (its adapter
 * is not written), or `false` when they can. Any other error is thrown.
 */
export async function socketSkipReason(): Promise<string | false> {
  const { defaultSocket } = await import(
    "../../src/transport/default_socket.ts"
  );
  try {
    const listener = await defaultSocket({ hostname: "127.0.0.1", port: 0 });
    await listener.close();
    return false;
  } catch (error) {
    if (/not available yet/.test(String(error))) {
      return "this runtime has no TCP adapter yet";
    }
    throw error;
  }
}
