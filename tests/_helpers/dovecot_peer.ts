/**
 * A self-contained Dovecot 2.3 POP3 server on 127.0.0.1 over one Maildir in
 * a temporary directory (user `alice`, password `secret`, Maildir
 * `<root>/home/Maildir`), for tests that compare our server with Dovecot on
 * the same files. As root, Dovecot reads the mail as `nobody`.
 */

import { execFileSync, spawnSync } from "node:child_process";
import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { nodeFs } from "../../src/runtime/node_fs.ts";
import { pop3Connect } from "./net_client.ts";
import { freePort } from "./free_port.ts";

/** Whether the `dovecot` binary runs here. */
export const HAVE_DOVECOT: boolean =
  spawnSync("dovecot", ["--version"]).status === 0;

/** Whether this process runs as root. */
export const IS_ROOT: boolean = typeof process.getuid === "function" &&
  process.getuid() === 0;

const fs = nodeFs();

/** One Dovecot instance and its Maildir. */
export class DovecotPeer {
  /** The temporary directory holding everything. */
  readonly root: string;
  /** The Maildir both servers read (`<root>/home/Maildir`). */
  readonly maildir: string;
  /** Dovecot's POP3 port. */
  readonly port: number;
  readonly #name: string;
  #running = false;

  private constructor(root: string, port: number, name: string) {
    this.root = root;
    this.maildir = join(root, "home", "Maildir");
    this.port = port;
    this.#name = name;
  }

  /** Makes the directory and an empty Maildir; starts nothing yet. */
  static async create(name: string): Promise<DovecotPeer> {
    const root = await mkdtemp(join(tmpdir(), `pop3d-dovecot-${name}-`));
    await chmod(root, 0o755); // the mail user (nobody as root) enters it
    const peer = new DovecotPeer(root, await freePort(), name);
    for (const sub of ["cur", "new", "tmp"]) {
      await mkdir(join(peer.maildir, sub), { recursive: true });
    }
    return peer;
  }

  /** Gives the mail tree to the user Dovecot reads it as. */
  handOver(): void {
    if (IS_ROOT) {
      execFileSync("chown", ["-R", "nobody:nogroup", join(this.root, "home")]);
    }
  }

  /**
   * Writes the configuration with `pop3Settings` inside `protocol pop3 {}`,
   * hands the mail over, starts Dovecot and waits for its greeting; does
   * nothing while it runs.
   */
  async start(pop3Settings: string[]): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.handOver();
    const root = this.root;
    const user = IS_ROOT
      ? "nobody"
      : execFileSync("id", ["-un"]).toString().trim();
    const ids = IS_ROOT
      ? ["65534", "65534"]
      : [String(process.getuid?.()), String(process.getgid?.())];
    await writeFile(
      join(root, "users"),
      `alice:{PLAIN}secret:${ids[0]}:${ids[1]}::${root}/home::\n`,
    );
    const conf = [
      `base_dir = ${root}/run`,
      `state_dir = ${root}/state`,
      `instance_name = pop3d-${this.#name}-${this.port}`,
      `log_path = ${root}/dovecot.log`,
      "protocols = pop3",
      "listen = 127.0.0.1",
      "ssl = no",
      "disable_plaintext_auth = no",
      `default_internal_user = ${IS_ROOT ? "dovecot" : user}`,
      `default_internal_group = ${IS_ROOT ? "dovecot" : user}`,
      `default_login_user = ${IS_ROOT ? "dovenull" : user}`,
      "first_valid_uid = 1",
      `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN ${root}/users\n}`,
      `userdb {\n  driver = passwd-file\n  args = ${root}/users\n}`,
      "mail_location = maildir:~/Maildir",
      `protocol pop3 {\n${pop3Settings.map((s) => `  ${s}\n`).join("")}}`,
      `service pop3-login {\n  inet_listener pop3 {\n    address = 127.0.0.1\n    port = ${this.port}\n  }\n${
        IS_ROOT ? "" : "  chroot =\n"
      }}`,
      IS_ROOT ? "" : "service anvil {\n  chroot =\n}",
    ].join("\n");
    const path = join(root, "dovecot.conf");
    await writeFile(path, `${conf}\n`);
    const checked = spawnSync("doveconf", ["-n", "-c", path]);
    if (checked.status !== 0) {
      throw new Error(`doveconf refused the configuration: ${checked.stderr}`);
    }
    // The master daemonizes: it must not inherit our pipes, or this waits
    // forever.
    execFileSync("dovecot", ["-c", path], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      try {
        const client = await pop3Connect(this.port);
        await client.cmd("QUIT");
        client.close();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    throw new Error(`Dovecot did not start: ${await this.log()}`);
  }

  /** Stops the master this peer started (by its pid file), if it runs. */
  async stop(): Promise<void> {
    this.#running = false;
    const pidFile = join(this.root, "run", "master.pid");
    const pid = Number(await readFile(pidFile, "utf8").catch(() => "0"));
    if (!(pid > 0) || !fs.isProcessAlive(pid)) return;
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 200 && fs.isProcessAlive(pid); i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Dovecot's log so far. */
  log(): Promise<string> {
    return readFile(join(this.root, "dovecot.log"), "utf8").catch(() => "");
  }

  /** Error, warning and corruption lines of Dovecot's log. */
  async complaints(): Promise<string[]> {
    return (await this.log()).split("\n").filter((line) =>
      /Error|Panic|Fatal|Warning|corrupt/i.test(line) &&
      !/Killed with signal 15/.test(line)
    );
  }

  /** Stops Dovecot and removes the directory. */
  async remove(): Promise<void> {
    await this.stop();
    await rm(this.root, { recursive: true, force: true });
  }
}
