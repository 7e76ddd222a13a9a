/**
 * Runs the `pop3d` program (cli.ts) as a child process on the runtime that
 * runs the test, and reads its JSON log lines.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { hashPassword } from "../../src/auth/password_scheme.ts";
import { makeCert, run, type RunResult, type TestCert } from "./tls.ts";

/** The program's entry file. */
export const CLI: string = fileURLToPath(
  new URL("../../cli.ts", import.meta.url),
);

/** The command that runs cli.ts with `args` on this runtime. */
export function programCommand(args: string[]): [string, string[]] {
  const exe = process.execPath;
  if ("Deno" in globalThis) {
    return [exe, ["run", "-A", "--no-lock", CLI, ...args]];
  }
  return [exe, [CLI, ...args]];
}

/** Runs the program to its end with `input` on stdin. */
export function runProgram(
  args: string[],
  input = "",
  timeoutMs = 30_000,
): Promise<RunResult & { out: string }> {
  const [cmd, argv] = programCommand(args);
  return run(cmd, argv, input, timeoutMs).then((r) => ({
    ...r,
    out: new TextDecoder().decode(r.stdout),
  }));
}

/** One JSON log record. */
export type Record = { [key: string]: unknown; event: string };

/** A running program. */
export class Program {
  readonly child: ChildProcess;
  /** Every stderr line so far. */
  readonly lines: string[] = [];
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string | null>;
  #partial = "";
  #wake: (() => void)[] = [];
  #done = false;

  /**
   * @param args The program's arguments.
   * @param command Another way to start it (an installed or compiled
   * program): the executable and the arguments before `args`.
   * @param env Its environment, when not this process's.
   */
  constructor(
    args: string[],
    command?: [string, string[]],
    env?: { [name: string]: string | undefined },
  ) {
    const [cmd, argv] = command
      ? [command[0], [...command[1], ...args]]
      : programCommand(args);
    this.child = spawn(cmd, argv, {
      stdio: ["ignore", "pipe", "pipe"],
      ...(env ? { env } : {}),
    });
    this.child.stdout!.on("data", () => {});
    this.child.stderr!.on("data", (chunk: Uint8Array) => {
      this.#partial += new TextDecoder().decode(chunk);
      const parts = this.#partial.split("\n");
      this.#partial = parts.pop()!;
      this.lines.push(...parts);
      for (const wake of this.#wake.splice(0)) wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        this.#done = true;
        for (const wake of this.#wake.splice(0)) wake();
        resolve(code ?? signal);
      });
    });
  }

  /** The log lines parsed, JSON or text (`<time> <event> key=value ...`). */
  get records(): Record[] {
    const out: Record[] = [];
    for (const line of this.lines) {
      if (line.startsWith("{")) {
        try {
          out.push(JSON.parse(line));
        } catch {
          // Not a log line.
        }
        continue;
      }
      const head = /^\S+Z (\S+)/.exec(line);
      if (!head) continue;
      const record: Record = { event: head[1] };
      for (const m of line.matchAll(/ (\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
        record[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
      }
      out.push(record);
    }
    return out;
  }

  /** Waits for a record that `match` accepts, after the first `skip` records. */
  async waitFor(
    match: (r: Record) => boolean,
    timeoutMs = 20_000,
    skip = 0,
  ): Promise<Record> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.records.slice(skip).find(match);
      if (found) return found;
      if (this.#done || Date.now() > deadline) {
        throw new Error(
          `Timed out waiting for a log record; log:\n${this.lines.join("\n")}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for `ready` and returns the bound port of each listener. */
  async ready(): Promise<{ pop3: number; pop3s?: number; metrics?: number }> {
    await this.waitFor((r) => r.event === "ready");
    const ports: { [proto: string]: number } = {};
    for (const r of this.records) {
      if (r.event === "listening" && !(String(r.proto) in ports)) {
        ports[String(r.proto)] = Number(String(r.address).split(":").pop());
      }
    }
    return ports as { pop3: number; pop3s?: number; metrics?: number };
  }

  /**
   * Sends a signal. Through `process.kill`: Deno's `child.kill()` marks the
   * child killed after a SIGHUP, and ignores later kills.
   */
  signal(name: "SIGHUP" | "SIGTERM" | "SIGINT" | "SIGKILL"): void {
    if (this.#done) return;
    try {
      process.kill(this.child.pid!, name);
    } catch {
      // Already gone.
    }
  }

  /** Kills the program if it still runs, and waits for it. */
  async stop(): Promise<void> {
    this.signal("SIGKILL");
    await this.exited;
  }
}

/** A Maildir root with mail for alice and bob, a passwd-file and a certificate. */
export interface Site {
  dir: string;
  maildir: string;
  passwd: string;
  cert: TestCert;
  /** Flags that serve this site on 127.0.0.1, every port picked by the OS. */
  args: string[];
  remove(): Promise<void>;
}

/** The messages in alice's Maildir, in order. */
export const ALICE_MAIL: string[] = [
  "Subject: one\r\n\r\nFirst message\r\n",
  "Subject: two\r\n\r\n.dot-stuffed line\r\nSecond\r\n",
];

/** Makes a {@linkcode Site}. */
export async function makeSite(): Promise<Site> {
  const dir = await mkdtemp(join(tmpdir(), "pop3d-cli-"));
  const maildir = join(dir, "mail");
  for (const user of ["alice", "bob"]) {
    for (const sub of ["new", "cur", "tmp"]) {
      await mkdir(join(maildir, user, sub), { recursive: true });
    }
  }
  for (let i = 0; i < ALICE_MAIL.length; i++) {
    await writeFile(
      join(maildir, "alice", "new", `100${i}.M${i}P1.test`),
      ALICE_MAIL[i],
    );
  }
  const passwd = join(dir, "passwd");
  await writeFile(
    passwd,
    `alice:${await hashPassword("alice-pw")}::::::\nbob:${await hashPassword(
      "bob-pw",
      { scheme: "PBKDF2" },
    )}::::::\n`,
  );
  const cert = await makeCert();
  return {
    dir,
    maildir,
    passwd,
    cert,
    args: [
      "--maildir",
      maildir,
      "--passwd",
      passwd,
      "--hostname",
      "127.0.0.1",
      "--port",
      "0",
      "--log-format",
      "json",
      "--auth-failure-delay",
      "0",
    ],
    async remove() {
      await cert.remove();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** TLS flags for a site: POP3S on a free port, STLS on the POP3 port. */
export function tlsArgs(site: Site): string[] {
  return [
    "--tls-port",
    "0",
    "--tls-cert",
    site.cert.certFile,
    "--tls-key",
    site.cert.keyFile,
  ];
}
