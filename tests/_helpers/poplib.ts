/**
 * Drives python3's `poplib` against a server, asynchronously (the server
 * runs on the same event loop, so a synchronous spawn would deadlock).
 */
import { spawn } from "node:child_process";

/** One poplib call: a method name and its arguments. */
export type PopStep = [string, ...(string | number)[]];

/** The outcome of one step: its value, or the error poplib raised. */
export type PopResult =
  | { ok: unknown; ms: number }
  | { error: string; type: string; ms: number };

const SCRIPT = String.raw`
import json, poplib, socket, sys, time
port = int(sys.argv[1])
steps = json.loads(sys.argv[2])
timeout = float(sys.argv[3])
out = []
def text(b):
    return b.decode("latin-1")
p = None
for step in steps:
    name, args = step[0], step[1:]
    t = time.monotonic()
    try:
        if name == "connect":
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
        elif name == "sleep":
            time.sleep(args[0])
            value = None
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
print(json.dumps(out))
`;

/**
 * Runs `steps` in one python3 process against 127.0.0.1:`port` and returns
 * one result per step. Errors do not stop the run.
 */
export function poplib(
  port: number,
  steps: PopStep[],
  timeoutSeconds = 10,
): Promise<PopResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", [
      "-c",
      SCRIPT,
      String(port),
      JSON.stringify(steps),
      String(timeoutSeconds),
    ]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) {
        reject(new Error(`python3 exited with ${code}: ${stderr}`));
        return;
      }
      resolve(JSON.parse(stdout));
    });
  });
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
