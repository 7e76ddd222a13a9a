/**
 * Test helpers for TLS: a self-signed certificate made with openssl, and
 * runners for third-party clients (openssl s_client, python3, curl).
 */

import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { concatBytes as concat } from "../../src/_util/concat.ts";

/** Which runtime runs the tests. */
export const RUNTIME: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

/** The result of a child process. */
export interface RunResult {
  code: number | null;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs a command to its end, feeding `input` on stdin; kills it after `timeoutMs`. */
export function run(
  command: string,
  args: string[],
  input: string | Uint8Array = "",
  timeoutMs = 15_000,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Uint8Array[] = [];
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (chunk: Uint8Array) => out.push(chunk));
    child.stderr.on("data", (chunk: Uint8Array) => (err += String(chunk)));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: concat(out), stderr: err });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}

/** Concatenates byte chunks. */
export { concat };

/** Whether a command can be started (`which`-like). */
export async function available(
  command: string,
  args: string[],
): Promise<boolean> {
  try {
    return (await run(command, args, "", 5000)).code === 0;
  } catch {
    return false;
  }
}

/** A self-signed certificate for `localhost` and 127.0.0.1, and its files. */
export interface TestCert {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  dir: string;
  remove(): Promise<void>;
}

/** Makes a fresh EC P-256 self-signed certificate with openssl. */
export async function makeCert(): Promise<TestCert> {
  const dir = await mkdtemp(join(tmpdir(), "pop3d-tls-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const result = await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ]); // deno-fmt-ignore
  if (result.code !== 0) throw new Error(`openssl req failed: ${result.stderr}`);
  return {
    cert: await readFile(certFile, "utf8"),
    key: await readFile(keyFile, "utf8"),
    certFile,
    keyFile,
    dir,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Runs a python3 script with `args`; the script prints one JSON value.
 * Returns it parsed, or throws with python's stderr.
 */
export async function python(script: string, args: string[]): Promise<unknown> {
  const result = await run("python3", ["-c", script, ...args]);
  if (result.code !== 0) {
    throw new Error(`python3 exited ${result.code}: ${result.stderr}`);
  }
  return JSON.parse(new TextDecoder().decode(result.stdout));
}

/** An interactive child process: write lines, wait for text on stdout. */
export class Interactive {
  #child: ReturnType<typeof spawn>;
  #out = "";
  #waiters: (() => void)[] = [];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;

  constructor(command: string, args: string[]) {
    this.#child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.#child.stdout!.on("data", (chunk: Uint8Array) => {
      this.#out += new TextDecoder("latin1").decode(chunk);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.#child.stderr!.on("data", () => {});
    this.#child.stdin!.on("error", () => {});
    this.exited = new Promise((resolve) => {
      this.#child.on("close", (code) => {
        for (const wake of this.#waiters.splice(0)) wake();
        resolve(code);
      });
    });
  }

  /** Everything read so far. */
  get output(): string {
    return this.#out;
  }

  /** Sends text as is. */
  write(text: string): void {
    this.#child.stdin!.write(text);
  }

  /** Waits until the output matches, or throws after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.#out)) {
      if (this.#child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`Timed out waiting for ${pattern}; got: ${this.#out}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.#out;
  }

  /** Closes stdin and kills the process. */
  kill(): void {
    this.#child.stdin!.end();
    this.#child.kill("SIGKILL");
  }
}

/** Whether openssl, python3 and curl can all be run. */
export async function clientsAvailable(): Promise<boolean> {
  const found = await Promise.all([
    available("openssl", ["version"]),
    available("python3", ["--version"]),
    available("curl", ["--version"]),
  ]);
  return !found.includes(false);
}
