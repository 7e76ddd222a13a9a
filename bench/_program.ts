/**
 * Runs the `pop3d` program (cli.ts) for a benchmark as an administrator
 * would: its log goes to a file (`--log FILE`), not through this process;
 * prints `READY port=… pid=…` with the program's pid once the program has
 * logged `ready` (with `--workers N`: the supervisor's line), so that a
 * benchmark measuring that pid's process tree counts the program and its
 * threads. SIGTERM and SIGINT are passed on; it exits when the program has.
 *
 *     deno run -A bench/_program.ts --log /tmp/ours.log --port 1110 -- \
 *       deno run -A cli.ts --maildir … --workers 2
 *
 * @module
 */

const args = [...Deno.args];
const dash = args.indexOf("--");
const log = args[args.indexOf("--log") + 1];
const port = args[args.indexOf("--port") + 1];
const cmd = args.slice(dash + 1);
if (dash === -1 || !log || !port || cmd.length === 0) {
  console.error("usage: _program.ts --log FILE --port N -- COMMAND [ARGS…]");
  Deno.exit(2);
}
Deno.writeTextFileSync(log, "");
// `exec` keeps the pid: the shell becomes the program.
const child = new Deno.Command("sh", {
  args: ["-c", 'exec "$@" 2>>"$POP3D_BENCH_LOG"', "sh", ...cmd],
  env: { POP3D_BENCH_LOG: log },
  stdout: "null",
  stderr: "inherit",
}).spawn();
const deadline = Date.now() + 60_000;
for (;;) {
  const text = Deno.readTextFileSync(log);
  const ready = text.split("\n").some((line) =>
    line.includes('"event":"ready"') &&
    (line.includes('"workers"') || !line.includes('"worker"'))
  );
  if (ready) break;
  if (Date.now() > deadline) {
    child.kill("SIGKILL");
    throw new Error(`the program did not log ready: ${text}`);
  }
  const exited = await Promise.race([
    child.status.then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), 50)),
  ]);
  if (exited) throw new Error(`the program exited before ready: ${text}`);
}
console.log(`READY port=${port} pid=${child.pid}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    try {
      child.kill(signal);
    } catch { /* gone */ }
  });
}
Deno.exit((await child.status).code);
