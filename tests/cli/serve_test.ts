/**
 * The `pop3d` program as a process, used as a mail administrator and mail
 * clients would: python poplib over POP3S and STLS, curl, openssl s_client,
 * Prometheus' own parser, and signals.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { copyFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  ALICE_MAIL,
  makeSite,
  Program,
  type Site,
  tlsArgs,
} from "../_helpers/cli_program.ts";
import {
  available,
  Interactive,
  makeCert,
  python,
  run,
  type TestCert,
} from "../_helpers/tls.ts";

const POPLIB = String.raw`
import json, poplib, ssl, sys
mode, port, cafile, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=cafile)
out = {}
if mode == "pop3s":
    p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=20)
else:
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    out["capa"] = sorted(p.capa().keys())
    p.stls(context=ctx)
out["cipher"] = p.sock.cipher()[0]
p.user(user)
try:
    p.pass_(pw)
except poplib.error_proto as e:
    out["error"] = e.args[0].decode()
    print(json.dumps(out))
    sys.exit(0)
n, size = p.stat()
out["stat"] = [n, size]
out["messages"] = [b"".join(l + b"\r\n" for l in p.retr(i + 1)[1]).decode() for i in range(n)]
p.quit()
print(json.dumps(out))
`;

const PROMETHEUS = String.raw`
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    out[fam.name] = {"type": fam.type, "help": fam.documentation,
                     "samples": [[s.name, s.labels, s.value] for s in fam.samples]}
print(json.dumps(out))
`;

type Poplib = {
  capa?: string[];
  cipher: string;
  error?: string;
  stat?: [number, number];
  messages?: string[];
};

function poplib(
  mode: "pop3s" | "stls",
  port: number,
  site: Site,
  user: string,
  password: string,
): Promise<Poplib> {
  return python(POPLIB, [
    mode,
    String(port),
    site.cert.certFile,
    user,
    password,
  ]) as Promise<Poplib>;
}

const haveClients = await Promise.all([
  available("python3", ["--version"]),
  available("openssl", ["version"]),
  available("curl", ["--version"]),
]).then((found) => !found.includes(false));
const haveParser = haveClients &&
  await available("python3", ["-c", "import prometheus_client"]);

/** A raw POP3 client over TCP that reads replies as they come. */
class LineClient {
  #socket: net.Socket;
  #text = "";
  #wake: (() => void) | undefined;
  closed = false;

  constructor(port: number) {
    this.#socket = net.connect({ host: "127.0.0.1", port });
    this.#socket.setEncoding("latin1");
    this.#socket.on("data", (t: string) => {
      this.#text += t;
      this.#wake?.();
    });
    this.#socket.on("close", () => {
      this.closed = true;
      this.#wake?.();
    });
    this.#socket.on("error", () => {});
  }

  /** Waits until the text read so far matches, and returns it (and forgets it). */
  async read(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.#text)) {
      if (this.closed || Date.now() > deadline) {
        throw new Error(`No ${pattern}; got ${JSON.stringify(this.#text)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const text = this.#text;
    this.#text = "";
    return text;
  }

  /** Waits for the connection to close. */
  async whenClosed(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("Connection stayed open");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  send(line: string): void {
    this.#socket.write(`${line}\r\n`);
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

async function login(port: number): Promise<LineClient> {
  const client = new LineClient(port);
  await client.read(/^\+OK.*\r\n/);
  client.send("USER alice");
  await client.read(/\r\n/);
  client.send("PASS alice-pw");
  assert.match(await client.read(/\r\n/), /^\+OK/);
  return client;
}

/** The certificate a TLS endpoint serves now, as PEM. */
async function servedCert(port: number, starttls: boolean): Promise<string> {
  const result = await run("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    ...(starttls ? ["-starttls", "pop3"] : []),
  ], "");
  const text = new TextDecoder().decode(result.stdout);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/
    .exec(text);
  if (!pem) throw new Error(`No certificate from s_client: ${text}`);
  return pem[0];
}

/** Waits until `session` has printed `n` lines starting with +OK. */
async function okLines(session: Interactive, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((session.output.match(/^\+OK/gm) ?? []).length < n) {
    if (Date.now() > deadline) {
      throw new Error(`Expected ${n} +OK lines, got: ${session.output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function pemBody(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----|\s/g, "");
}

/**
 * Whether a new connection gets no greeting: refused, or (Deno closes its
 * listener only once the pending accept returns) closed without a word.
 */
function noGreeting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let data = "";
    socket.on("data", (chunk) => data += chunk);
    socket.on("error", () => resolve(data === ""));
    socket.on("close", () => resolve(data === ""));
    setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 5000);
  });
}

describe("pop3d program: serving", {
  skip: haveClients ? false : "needs python3, openssl and curl",
}, () => {
  let site: Site;
  before(async () => {
    site = await makeSite();
  });
  after(async () => {
    await site?.remove();
  });

  it("serves POP3S and STLS to python poplib and curl, and /metrics parses with prometheus_client", async () => {
    const program = new Program([
      ...site.args,
      ...tlsArgs(site),
      "--metrics-port",
      "0",
    ]);
    try {
      const ports = await program.ready();
      assert.ok(ports.pop3s && ports.metrics);

      const pop3s = await poplib(
        "pop3s",
        ports.pop3s!,
        site,
        "alice",
        "alice-pw",
      );
      assert.deepEqual(pop3s.messages, ALICE_MAIL);
      assert.equal(pop3s.stat![0], 2);
      const stls = await poplib("stls", ports.pop3, site, "bob", "bob-pw");
      assert.ok(stls.capa!.includes("STLS"));
      assert.deepEqual(stls.stat, [0, 0]);
      const wrong = await poplib("stls", ports.pop3, site, "bob", "nope");
      assert.match(wrong.error!, /^-ERR/);

      const curl = await run("curl", [
        "-s",
        "--cacert",
        site.cert.certFile,
        `pop3s://alice:alice-pw@127.0.0.1:${ports.pop3s}/1`,
      ]);
      assert.equal(curl.code, 0);
      assert.equal(new TextDecoder().decode(curl.stdout), ALICE_MAIL[0]);

      // Every session has ended (close events) before the counters are read.
      await program.waitFor(() =>
        program.records.filter((r) => r.event === "close").length === 4
      );
      const response = await fetch(`http://127.0.0.1:${ports.metrics}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
      const text = await response.text();
      assert.equal(
        (await fetch(`http://127.0.0.1:${ports.metrics}/other`)).status,
        404,
      );
      if (!haveParser) return; // prometheus_client missing: checked by hand above
      const parsed = await run("python3", ["-c", PROMETHEUS], text);
      assert.equal(parsed.code, 0, parsed.stderr);
      const families = JSON.parse(new TextDecoder().decode(parsed.stdout)) as {
        [name: string]: {
          type: string;
          help: string;
          samples: [string, { [k: string]: string }, number][];
        };
      };
      const value = (name: string, labels: { [k: string]: string } = {}) =>
        families[name]?.samples.find(([, l]) =>
          Object.entries(labels).every(([k, v]) => l[k] === v)
        )?.[2];
      for (const [name, family] of Object.entries(families)) {
        assert.ok(family.help.length > 0, `${name} has HELP`);
      }
      assert.equal(families.pop3d_logins.type, "counter");
      assert.equal(value("pop3d_logins", { result: "ok", method: "USER" }), 2);
      assert.equal(
        value("pop3d_logins", { result: "failed", method: "USER" }),
        1,
      );
      assert.equal(
        value("pop3d_logins", { result: "ok", method: "SASL PLAIN" }),
        1,
      );
      assert.equal(value("pop3d_login_failures", { reason: "credentials" }), 1);
      assert.equal(value("pop3d_connections", { tls: "true" }), 2);
      assert.equal(value("pop3d_connections", { tls: "false" }), 2);
      assert.equal(families.pop3d_connections_active.type, "gauge");
      assert.equal(value("pop3d_connections_active", { tls: "true" }), 0);
      assert.equal(value("pop3d_commands", { verb: "STLS", result: "ok" }), 2);
      assert.equal(value("pop3d_commands", { verb: "RETR", result: "ok" }), 3);
      assert.equal(value("pop3d_messages_retrieved"), 3);
      assert.equal(value("pop3d_messages_deleted"), 0);
      assert.ok(value("pop3d_sent_bytes")! > 0);
      assert.ok(value("pop3d_received_bytes")! > 0);
      assert.equal(value("pop3d_errors"), 0);
      assert.ok(
        value("pop3d_tls_certificate_expiry_timestamp_seconds")! >
          Date.now() / 1000,
      );
      // Every event of a session is one line with its id and address.
      const logins = program.records.filter((r) => r.event === "login");
      assert.equal(logins.length, 3);
      for (const r of logins) {
        assert.equal(r.remote, "127.0.0.1");
        assert.equal(typeof r.id, "number");
      }
    } finally {
      await program.stop();
    }
  });

  it("listens on IPv4 and IPv6 with a repeated --hostname", async () => {
    const program = new Program([...site.args, "--hostname", "::1"]);
    try {
      await program.ready();
      const addresses = program.records.filter((r) => r.event === "listening")
        .map((r) => String(r.address));
      assert.equal(addresses.length, 2);
      assert.match(addresses[0], /^127\.0\.0\.1:\d+$/);
      assert.match(addresses[1], /^\[::1\]:\d+$/);
      const port6 = Number(addresses[1].split(":").pop());
      const curl = await run("curl", [
        "-s",
        `pop3://alice:alice-pw@[::1]:${port6}/2`,
      ]);
      assert.equal(new TextDecoder().decode(curl.stdout), ALICE_MAIL[1]);
      const open = program.records.find((r) => r.event === "open");
      assert.equal(open?.remote, "::1");
    } finally {
      await program.stop();
    }
  });

  it("two programs share one port with --reuse-port true, and both serve", async () => {
    const first = new Program([...site.args, "--reuse-port", "true"]);
    let second: Program | undefined;
    try {
      const { pop3: port } = await first.ready();
      const args = [...site.args, "--reuse-port", "true"];
      args[args.indexOf("--port") + 1] = String(port);
      second = new Program(args);
      await second.ready();
      for (let i = 0; i < 30; i++) {
        await new Promise<void>((resolve, reject) => {
          const socket = net.connect(port, "127.0.0.1");
          socket.once("data", () => socket.end("QUIT\r\n"));
          socket.once("close", () => resolve());
          socket.once("error", reject);
        });
      }
      const opened = (p: Program) =>
        p.records.filter((r) => r.event === "open").length;
      await first.waitFor(() => opened(first) + opened(second!) === 30);
      // Each served some (all 30 on one side: a chance of 2^-29).
      assert.ok(opened(first) > 0 && opened(second) > 0);
    } finally {
      await second?.stop();
      await first.stop();
    }
  });

  it("SIGHUP swaps the certificate for new POP3S and STLS connections while logged-in sessions go on; a bad one is refused", async () => {
    // Files of its own, so the site's certificate stays as it was.
    const certFile = join(site.dir, "hup-cert.pem");
    const keyFile = join(site.dir, "hup-key.pem");
    await copyFile(site.cert.certFile, certFile);
    await copyFile(site.cert.keyFile, keyFile);
    const program = new Program([
      ...site.args,
      "--tls-port",
      "0",
      "--tls-cert",
      certFile,
      "--tls-key",
      keyFile,
    ]);
    let renewed: TestCert | undefined;
    const sessions: Interactive[] = [];
    try {
      const ports = await program.ready();
      assert.equal(
        pemBody(await servedCert(ports.pop3s!, false)),
        pemBody(site.cert.cert),
      );
      // Two sessions logged in over TLS, each its own openssl client:
      // alice over POP3S (greeting, USER, PASS), bob over STLS (USER, PASS).
      const pop3s = new Interactive("openssl", [
        "s_client",
        "-connect",
        `127.0.0.1:${ports.pop3s}`,
        "-crlf",
        "-quiet",
      ]);
      sessions.push(pop3s);
      await pop3s.waitFor(/\+OK/);
      pop3s.write("USER alice\nPASS alice-pw\n");
      await okLines(pop3s, 3);
      const stls = new Interactive("openssl", [
        "s_client",
        "-connect",
        `127.0.0.1:${ports.pop3}`,
        "-starttls",
        "pop3",
        "-crlf",
        "-quiet",
      ]);
      sessions.push(stls);
      stls.write("USER bob\nPASS bob-pw\n");
      await okLines(stls, 2);

      renewed = await makeCert();
      await writeFile(keyFile, renewed.key);
      await writeFile(certFile, renewed.cert);
      const before = program.records.length;
      const sent = Date.now();
      program.signal("SIGHUP");
      let served = "";
      while (pemBody(served) !== pemBody(renewed.cert)) {
        if (Date.now() - sent > 20_000) {
          throw new Error("Old certificate still served");
        }
        served = await servedCert(ports.pop3s!, false);
      }
      const elapsed = Date.now() - sent;
      const reloaded = await program.waitFor(
        (r) => r.event === "reloaded",
        20_000,
        before,
      );
      assert.equal(reloaded.ok, true);
      assert.equal(
        pemBody(await servedCert(ports.pop3, true)),
        pemBody(renewed.cert),
      );
      console.log(
        `SIGHUP to the new certificate on a new connection: ${elapsed} ms (reload took ${reloaded.duration_ms} ms)`,
      );

      // The sessions opened before go on.
      pop3s.write("RETR 1\n");
      await pop3s.waitFor(/First message\r?\n\.\r?\n/);
      pop3s.write("QUIT\n");
      await okLines(pop3s, 5);
      stls.write("STAT\nQUIT\n");
      await stls.waitFor(/\+OK 0 0/);
      await okLines(stls, 4);
      await program.waitFor((r) => r.event === "logout" && r.user === "alice");
      await program.waitFor((r) => r.event === "logout" && r.user === "bob");

      // A broken certificate is refused: the renewed one stays in use.
      await writeFile(certFile, "not a certificate\n");
      const mark = program.records.length;
      program.signal("SIGHUP");
      const failed = await program.waitFor(
        (r) => r.event === "reload-failed",
        20_000,
        mark,
      );
      assert.equal(failed.setting, "tls-cert");
      assert.match(String(failed.error), /--tls-cert .*not a PEM certificate/);
      assert.equal(
        pemBody(await servedCert(ports.pop3s!, false)),
        pemBody(renewed.cert),
      );
    } finally {
      for (const s of sessions) s.kill();
      await program.stop();
      await renewed?.remove();
    }
  });

  it("SIGHUP re-reads the passwd-file and applies new limits", async () => {
    const config = join(site.dir, "hup.conf");
    await writeFile(config, "greeting = before reload\n");
    const passwd = join(site.dir, "hup-passwd");
    await copyFile(site.passwd, passwd);
    const args = site.args.map((a) => a === site.passwd ? passwd : a);
    const program = new Program([...args, "--config", config]);
    try {
      const ports = await program.ready();
      const first = new LineClient(ports.pop3);
      assert.match(await first.read(/\r\n/), /^\+OK before reload/);
      first.destroy();
      await writeFile(config, "greeting = after reload\n");
      await writeFile(passwd, "carol:{PLAIN}carol-pw::::::\n");
      const mark = program.records.length;
      program.signal("SIGHUP");
      await program.waitFor((r) => r.event === "reloaded", 20_000, mark);
      const second = new LineClient(ports.pop3);
      assert.match(await second.read(/\r\n/), /^\+OK after reload/);
      second.send("USER carol");
      await second.read(/\r\n/);
      second.send("PASS carol-pw");
      assert.match(await second.read(/\r\n/), /^\+OK/);
      second.send("QUIT");
      await second.whenClosed();
      // A setting taken out of the file goes back to its default.
      await writeFile(config, "# no greeting\nexpire = 30\n");
      const mark2 = program.records.length;
      program.signal("SIGHUP");
      await program.waitFor((r) => r.event === "reloaded", 20_000, mark2);
      await writeFile(config, "# nothing\n");
      const mark3 = program.records.length;
      program.signal("SIGHUP");
      await program.waitFor((r) => r.event === "reloaded", 20_000, mark3);
      const third = new LineClient(ports.pop3);
      assert.match(await third.read(/\r\n/), /^\+OK POP3 server ready/);
      third.send("CAPA");
      const capa = await third.read(/\r\n\.\r\n/);
      assert.doesNotMatch(capa, /EXPIRE/);
      third.destroy();
    } finally {
      await program.stop();
    }
  });

  it("SIGTERM stops listening, lets a session finish its RETR and QUIT, and exits 0", async () => {
    const program = new Program([...site.args, "--drain-timeout", "20s"]);
    try {
      const ports = await program.ready();
      const client = await login(ports.pop3);
      program.signal("SIGTERM");
      const stopping = await program.waitFor((r) => r.event === "stopping");
      assert.equal(stopping.open, 1);
      assert.ok(
        await noGreeting(ports.pop3),
        "new connections get no greeting",
      );
      client.send("RETR 2");
      assert.equal(
        (await client.read(/\r\n\.\r\n$/)).replace(/^\+OK[^\r]*\r\n/, ""),
        ALICE_MAIL[1].replace("\r\n.dot", "\r\n..dot") + ".\r\n",
      );
      client.send("QUIT");
      assert.match(await client.read(/\r\n/), /^\+OK/);
      assert.equal(await program.exited, 0);
      assert.ok(program.records.some((r) => r.event === "stopped"));
    } finally {
      await program.stop();
    }
  });

  it("SIGTERM closes a session that outlives --drain-timeout without deleting its mail, and exits 0", async () => {
    const program = new Program([...site.args, "--drain-timeout", "300ms"]);
    try {
      const ports = await program.ready();
      const client = await login(ports.pop3);
      client.send("DELE 1");
      assert.match(await client.read(/\r\n/), /^\+OK/);
      program.signal("SIGTERM");
      await client.whenClosed();
      assert.equal(await program.exited, 0);
      const timeout = program.records.find((r) => r.event === "drain-timeout");
      assert.equal(timeout?.closing, 1);
      // No QUIT, so no UPDATE state: both messages are still there.
      const cur = await readdir(join(site.maildir, "alice", "cur"));
      assert.equal(cur.filter((n) => !n.startsWith("pop3d")).length, 2);
    } finally {
      await program.stop();
    }
  });
});
