// examples/serve.ts must run unchanged on each runtime: start it with the
// runtime running this test, fetch a message, then stop it with SIGTERM.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { test } from "node:test";
import { converse, runtimeName } from "../_helpers/runtime.ts";

test(`examples/serve.ts runs on ${runtimeName()} and stops on SIGTERM`, async () => {
  const args = runtimeName() === "deno"
    ? ["run", "-A", "examples/serve.ts", "--port", "0"]
    : ["examples/serve.ts", "--port", "0"];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => stderr += text);
  const exited = new Promise<string>((resolve) =>
    child.on("close", (code, signal) => resolve(`${code}/${signal}`))
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on("data", (text: string) => {
        stdout += text;
        const m = stdout.match(/listening on 127\.0\.0\.1:(\d+)/);
        if (m) resolve(Number(m[1]));
      });
      exited.then(() => reject(new Error(`serve.ts exited: ${stderr}`)));
    });
    const replies = await converse(port, [
      "USER demo",
      "PASS demo",
      "RETR 1",
      "QUIT",
    ]);
    assert.match(replies[3], /^\+OK \d+ octets\r\n/);
    assert.match(replies[3], /Subject: Sample message 1\r\n/);
    assert.match(replies[3], /\r\n\.\.A line that starts with a dot/);
    assert.match(replies[4], /^\+OK/);
    child.kill("SIGTERM");
    const status = await exited;
    // Deno's node:child_process reports the signal it sent even when the
    // child caught it and exited 0; "Stopped" shows the clean exit there.
    if (runtimeName() !== "deno") assert.equal(status, "0/null", stderr);
    assert.match(stdout, /Stopped/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
});
