/**
 * Runs N copies of a server command that share one port (`--reuse-port` is
 * appended to each), waits for every `READY port=… pid=…` line, then prints
 * its own `READY` line with its own pid, so that a benchmark measuring the
 * process tree of that pid counts all of them. SIGTERM and SIGINT are passed
 * on; it exits when they have.
 *
 *     deno run -A bench/_instances.ts 2 -- deno run -A bench/serve_real.ts --port 1110 …
 *
 * @module
 */

const [count, dash, ...cmd] = Deno.args;
const n = Number(count);
if (!Number.isSafeInteger(n) || n < 1 || dash !== "--" || cmd.length === 0) {
  console.error("usage: _instances.ts N -- COMMAND [ARGS…]");
  Deno.exit(2);
}

const children = Array.from({ length: n }, () =>
  new Deno.Command(cmd[0], {
    args: [...cmd.slice(1), "--reuse-port"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn());

let port = "";
await Promise.all(children.map(async (child) => {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`an instance exited before READY: ${text}`);
    text += value;
    const m = text.match(/READY port=(\d+)/);
    if (m) {
      port = m[1];
      break;
    }
  }
  (async () => { // keep draining stdout so the server never blocks on it
    while (!(await reader.read()).done) { /* discard */ }
  })();
}));
console.log(`READY port=${port} pid=${Deno.pid}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    for (const child of children) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    }
  });
}
await Promise.all(children.map((child) => child.status));
