/**
 * Helpers for tests that need a real socket: which runtime runs the test,
 * a line-based POP3 client over `node:net`, and python3 as a child process.
 *
 * @module
 */

import { spawn } from "node:child_process";
import * as net from "node:net";

/** The runtime running this test file. */
export type RuntimeName = "deno" | "bun" | "node";

/** Names the host runtime. */
export function runtimeName(): RuntimeName {
  const host = globalThis as { Deno?: unknown; Bun?: unknown };
  if (host.Deno !== undefined) return "deno";
  if (host.Bun !== undefined) return "bun";
  return "node";
}

/** Why a test for `wanted` is skipped here, or false when it runs. */
export function skipUnless(wanted: RuntimeName): string | false {
  const here = runtimeName();
  return here === wanted
    ? false
    : `the ${wanted} adapter needs ${wanted}, this is ${here}`;
}

/**
 * Sends each command once the previous reply is complete and returns every
 * reply (multi-line ones joined with CRLF, terminator included). The first
 * reply is the greeting.
 */
export function converse(
  port: number,
  commands: string[],
  multiLine: (command: string) => boolean = (c) =>
    /^(CAPA|LIST|UIDL|RETR|TOP)\b/i.test(c) && !/^(LIST|UIDL) \d/i.test(c),
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const replies: string[] = [];
    let buffer = "";
    let sent = -1; // index of the command whose reply is awaited; -1: greeting
    socket.setEncoding("latin1");
    socket.on("data", (text: string) => {
      buffer += text;
      for (;;) {
        const expectMulti = sent >= 0 && multiLine(commands[sent]) &&
          buffer.startsWith("+OK");
        const at = buffer.indexOf(expectMulti ? "\r\n.\r\n" : "\r\n");
        if (at < 0) return;
        const end = at + (expectMulti ? 5 : 2);
        replies.push(buffer.slice(0, end));
        buffer = buffer.slice(end);
        sent++;
        if (sent < commands.length) socket.write(commands[sent] + "\r\n");
        else return socket.end();
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(replies));
  });
}

/** What a child process printed, and how it ended. */
export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running python3 script: write lines to its stdin, await its end. */
export interface PythonChild {
  /** Sends one line to the script's stdin. */
  send(line: string): void;
  /** Resolves when the script has exited. */
  done: Promise<ChildResult>;
  /** Resolves with the first stdout line that starts with `prefix`. */
  waitFor(prefix: string): Promise<string>;
  /** Kills the script if it still runs (call it in `finally`). */
  kill(): void;
}

/** Starts `python3 -c script ...args` (asynchronously; never a sync spawn). */
export function python(script: string, args: string[] = []): PythonChild {
  const child = spawn("python3", ["-u", "-c", script, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const watchers: { prefix: string; resolve(line: string): void }[] = [];
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (text: string) => {
    stdout += text;
    for (const line of stdout.split("\n").slice(0, -1)) { // whole lines only
      for (const w of watchers.filter((w) => line.startsWith(w.prefix))) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr.on("data", (text: string) => stderr += text);
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return {
    send: (line) => void child.stdin.write(line + "\n"),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
    done,
    waitFor: (prefix) =>
      new Promise((resolve, reject) => {
        watchers.push({ prefix, resolve });
        done.then((r) =>
          reject(
            new Error(`python3 exited before "${prefix}": ${r.stderr}`),
          )
        );
      }),
  };
}

/** Polls `check` every 20 ms until it is true or `ms` have passed. */
export async function waitUntil(
  check: () => boolean,
  ms = 5000,
): Promise<boolean> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
