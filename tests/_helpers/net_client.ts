/**
 * Real-socket helpers for tests, on `node:net` and `node:child_process` so
 * the same files run under Deno, Bun and Node.
 */

import { connect as netConnect } from "node:net";
import { spawn } from "node:child_process";
import { type ClientSide, Pop3Client, within } from "./pop3_client.ts";
import { concatBytes } from "../../src/_util/concat.ts";

/** Opens a TCP connection and wraps it as Web Streams. */
export function tcpConnect(port: number, host = "127.0.0.1"): Promise<
  ClientSide
> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ port, host });
    socket.setNoDelay(true);
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      const readable = new ReadableStream<Uint8Array>({
        start(controller) {
          socket.on("data", (data: Uint8Array) => {
            controller.enqueue(new Uint8Array(data));
          });
          socket.on("end", () => {
            try {
              controller.close();
            } catch { /* already closed */ }
          });
          socket.on("error", (error) => {
            try {
              controller.error(error);
            } catch { /* already closed */ }
          });
          socket.on("close", () => {
            try {
              controller.close();
            } catch { /* already closed */ }
          });
        },
        cancel() {
          socket.destroy();
        },
      });
      const writable = new WritableStream<Uint8Array>({
        write(chunk) {
          return new Promise((done, fail) => {
            socket.write(chunk, (error) => error ? fail(error) : done());
          });
        },
        close() {
          socket.end();
        },
      });
      resolve({ readable, writable, close: () => socket.destroy() });
    });
  });
}

/** Connects a {@linkcode Pop3Client} over TCP and reads the greeting. */
export async function pop3Connect(port: number): Promise<Pop3Client> {
  const client = new Pop3Client(await tcpConnect(port));
  await client.greeting();
  return client;
}

/** What a child process wrote and how it ended. */
export interface RunResult {
  code: number | null;
  stdout: Uint8Array;
  stderr: string;
}

/**
 * Runs a program asynchronously (a sync spawn would block the event loop
 * the server under test runs on) and collects its output.
 */
export function run(
  command: string,
  args: string[],
  options: { input?: string; ms?: number } = {},
): Promise<RunResult> {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  const out: Uint8Array[] = [];
  let err = "";
  child.stdout.on("data", (d: Uint8Array) => out.push(new Uint8Array(d)));
  child.stderr.on(
    "data",
    (d: Uint8Array) => err += new TextDecoder().decode(d),
  );
  child.stdin.end(options.input ?? "");
  const done = new Promise<RunResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code: number | null) => {
      resolve({ code, stdout: concatBytes(out), stderr: err });
    });
  });
  return within(done, options.ms ?? 30_000, `${command} to finish`).catch(
    (error) => {
      child.kill("SIGKILL");
      throw error;
    },
  );
}
