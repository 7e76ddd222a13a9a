/**
 * The program's one adapter to the host runtime, through the `node:`
 * modules that Deno, Bun and Node all ship: arguments, standard streams,
 * files, signals and exit.
 *
 * @module
 */

import process from "node:process";
import { availableParallelism } from "node:os";
import { readFile, rename, stat, statfs, writeFile } from "node:fs/promises";
import {
  isMainThread,
  parentPort,
  Worker,
  workerData,
} from "node:worker_threads";
import type { FromWorker, ToWorker, WorkerData } from "./worker_role.ts";

/** What the program needs from the host; tests may pass their own. */
export interface Host {
  /** Command-line arguments after the program name. */
  args: readonly string[];
  /** Environment variables. */
  env(name: string): string | undefined;
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** Reads the first line of standard input (without its line end). */
  readLine(): Promise<string>;
  /** Reads a whole file as text. */
  readText(path: string): Promise<string>;
  /** Replaces a file atomically (temp file and rename), mode 0600. */
  writeTextAtomic(path: string, text: string): Promise<void>;
  /** Whether `path` is a directory (`undefined` when missing). */
  isDirectory(path: string): Promise<boolean | undefined>;
  /** Calls `handler` on each of the signals. */
  onSignal(signal: "SIGHUP" | "SIGTERM" | "SIGINT", handler: () => void): void;
  /** Ends the process. */
  exit(code: number): never;
  /** How many threads can run at once here (`--workers auto`). */
  cpus?(): number;
  /**
   * Whether asynchronous file calls share a thread pool of a fixed size
   * that `UV_THREADPOOL_SIZE` sets when the process starts (Node and Bun;
   * Deno's grows as needed).
   */
  fixedFilePool?(): boolean;
  /**
   * The type of the file system `path` is on (`statfs`'s `f_type`, a
   * magic number), or `undefined` when it cannot be told.
   */
  fileSystemType?(path: string): Promise<number | undefined>;
  /** Starts a worker thread running `worker_main.ts` (`--workers`). */
  startWorker?(data: WorkerData): WorkerThread;
}

/** A worker thread, as the supervisor sees it. */
export interface WorkerThread {
  /** Sends a message to the worker. */
  post(message: ToWorker): void;
  /** Receives the worker's messages, in order. */
  onMessage(handler: (message: FromWorker) => void): void;
  /**
   * Called once when the thread has ended, with the error that ended it;
   * the code is not 0 when there is one.
   */
  onExit(handler: (code: number, error?: Error) => void): void;
  /** Ends the thread now. */
  terminate(): void;
}

/** The supervisor, as a worker thread sees it. */
export interface WorkerLink {
  /** What the worker was started with. */
  data: WorkerData;
  /** Sends a message to the supervisor. */
  post(message: FromWorker): void;
  /** Receives the supervisor's messages. */
  onMessage(handler: (message: ToWorker) => void): void;
  /**
   * Runs `handler` as the thread ends, also when an uncaught error ends it
   * (Node and Bun; a Deno thread that dies of one ends without it).
   */
  onExit?(handler: () => void): void;
}

/**
 * The supervisor's end, in a worker thread started by
 * {@linkcode Host.startWorker}; `undefined` in the main thread.
 *
 * @example
 * ```ts ignore
 * const link = workerLink();
 * link?.post({ type: "ready" });
 * ```
 */
export function workerLink(): WorkerLink | undefined {
  if (isMainThread || !parentPort) return undefined;
  const port = parentPort;
  return {
    data: workerData as WorkerData,
    post: (message) => port.postMessage(message),
    onMessage: (handler) => void port.on("message", handler),
    onExit: (handler) => void process.on("exit", handler),
  };
}

/**
 * The worker threads' module. In an executable from `bun build --compile
 * cli.ts src/cli/worker_main.ts` every bundled module has the executable's
 * URL, and the second entry point keeps its path from the checkout.
 */
const WORKER_MAIN = import.meta.url.includes("/$bunfs/")
  ? new URL("./src/cli/worker_main.ts", import.meta.url)
  : new URL("./worker_main.ts", import.meta.url);

/**
 * Starts a thread running `module` (the worker module unless a test gives
 * another), with `data` as its `workerData`.
 *
 * @example
 * ```ts ignore
 * const thread = startWorker({ args: [], index: 1, count: 1 });
 * thread.onExit((code, error) => console.log(code, error));
 * ```
 */
export function startWorker(
  data: WorkerData,
  module: URL = WORKER_MAIN,
): WorkerThread {
  const young = data.youngGenerationMb;
  const worker = new Worker(module, {
    workerData: data,
    ...(young ? { resourceLimits: { maxYoungGenerationSizeMb: young } } : {}),
  });
  let error: Error | undefined;
  worker.on("error", (e: unknown) => {
    error = e instanceof Error ? e : new Error(String(e));
  });
  return {
    post: (message) => worker.postMessage(message),
    onMessage: (handler) => void worker.on("message", handler),
    // Bun ends a thread that died of an uncaught error with code 0.
    onExit: (handler) =>
      void worker.once(
        "exit",
        (code: number) => handler(error && code === 0 ? 1 : code, error),
      ),
    terminate: () => void worker.terminate(),
  };
}

/**
 * The host this process runs on.
 *
 * @example
 * ```ts ignore
 * import { nodeHost } from "./host.ts";
 * nodeHost().out("hello\n");
 * ```
 */
export function nodeHost(): Host {
  return {
    args: process.argv.slice(2),
    env: (name) => process.env[name],
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    async readLine() {
      let text = "";
      for await (const chunk of process.stdin) {
        text += typeof chunk === "string"
          ? chunk
          : new TextDecoder().decode(chunk);
        if (text.includes("\n")) break;
      }
      return text.split(/\r?\n/)[0];
    },
    readText: (path) => readFile(path, "utf8"),
    async writeTextAtomic(path, text) {
      const temp = `${path}.${process.pid}.tmp`;
      await writeFile(temp, text, { mode: 0o600, flag: "wx" });
      await rename(temp, path);
    },
    async isDirectory(path) {
      try {
        return (await stat(path)).isDirectory();
      } catch {
        return undefined;
      }
    },
    onSignal(signal, handler) {
      process.on(signal, handler);
    },
    exit: (code) => process.exit(code),
    cpus: availableParallelism,
    fixedFilePool: () => !("Deno" in globalThis),
    async fileSystemType(path) {
      try {
        return (await statfs(path)).type;
      } catch {
        return undefined;
      }
    },
    startWorker: (data) => startWorker(data),
  };
}
