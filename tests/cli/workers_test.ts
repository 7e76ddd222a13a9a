/**
 * `pop3d --workers 2` as a process: two worker threads share the port,
 * their sessions have distinct ids in the one log, /metrics has a series
 * per worker (parsed by prometheus_client), a failed login penalises the
 * address in both workers, SIGHUP reloads both, SIGTERM stops all; and the
 * settings that cannot go with workers exit 2 naming the setting.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { join } from "node:path";
import {
  makeSite,
  Program,
  runProgram,
  type Site,
} from "../_helpers/cli_program.ts";
import { available, run } from "../_helpers/tls.ts";
import { freePort } from "../_helpers/free_port.ts";

const PROMETHEUS = String.raw`
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append([fam.name, fam.type, s.labels, s.value])
print(json.dumps(out))
`;

const haveParser = await available("python3", [
  "-c",
  "import prometheus_client",
]);

/** One POP3 session: USER, PASS, then QUIT; resolves with the PASS reply. */
function session(port: number, password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const lines = ["USER alice", `PASS ${password}`, "QUIT"];
    const replies: string[] = [];
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      let end;
      while ((end = text.indexOf("\r\n")) !== -1) {
        replies.push(text.slice(0, end));
        text = text.slice(end + 2);
        const next = lines.shift();
        if (next) socket.write(`${next}\r\n`);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(replies[2] ?? replies.join(" | ")));
  });
}

/** Each sample of the exposition: [family, type, labels, value]. */
type Sample = [string, string, Record<string, string>, number];

/** The exposition, parsed by prometheus_client when it is installed. */
async function samples(text: string): Promise<Sample[] | undefined> {
  if (!haveParser) return undefined;
  const parsed = await run("python3", ["-c", PROMETHEUS], text);
  assert.equal(parsed.code, 0, parsed.stderr);
  return JSON.parse(new TextDecoder().decode(parsed.stdout));
}

/** The value of a sample in the text (each worker's line, as written). */
function value(text: string, sample: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

describe("pop3d --workers 2", () => {
  let site: Site;
  let program: Program;
  let port: number;
  let metrics: string;
  before(async () => {
    site = await makeSite();
    port = await freePort();
    program = new Program([
      ...site.args.filter((a, i, all) =>
        a !== "--port" && all[i - 1] !== "--port"
      ),
      "--port",
      String(port),
      "--workers",
      "2",
      "--metrics-port",
      "0",
      "--auth-penalty",
      "1s",
      "--worker-timeout",
      "2s",
    ]);
    await program.waitFor((r) => r.event === "ready" && r.workers === 2);
    const listening = program.records.find((r) =>
      r.event === "listening" && r.proto === "metrics"
    );
    metrics = `http://127.0.0.1:${
      String(listening?.address).split(":").pop()
    }/metrics`;
  });
  after(async () => {
    await program?.stop();
    await site?.remove();
  });

  it("both workers listen on the port and serve, with distinct session ids", async () => {
    const listening = program.records.filter((r) =>
      r.event === "listening" && r.proto === "pop3"
    );
    assert.deepEqual(listening.map((r) => r.worker).sort(), [1, 2]);
    for (const r of listening) assert.equal(r.address, `127.0.0.1:${port}`);
    for (let i = 0; i < 16; i++) {
      assert.match(await session(port, "alice-pw"), /^\+OK/);
    }
    await program.waitFor(() =>
      program.records.filter((r) => r.event === "close").length === 16
    );
    const ids = program.records.filter((r) => r.event === "close").map((r) =>
      Number(r.id)
    );
    assert.equal(new Set(ids).size, 16, `ids ${ids}`);
    // Worker k numbers its sessions k, k + 2, ...: both took some (the
    // kernel spreads 16 connections over two sockets; all on one is 2^-15).
    assert.ok(ids.some((id) => id % 2 === 1), `ids ${ids}`);
    assert.ok(ids.some((id) => id % 2 === 0), `ids ${ids}`);
  });

  it("serves one /metrics with a series per worker", async () => {
    const text = await (await fetch(metrics)).text();
    const ok = (w: number) =>
      value(
        text,
        `pop3d_logins_total{worker="${w}",result="ok",method="USER"}`,
      ) ?? NaN;
    assert.equal(ok(1) + ok(2), 16);
    assert.equal(value(text, "pop3d_workers"), 2);
    assert.equal(value(text, "pop3d_worker_restarts_total"), 0);
    const parsed = await samples(text);
    if (!parsed) return; // prometheus_client missing: checked by hand above
    const logins = parsed.filter(([name, type, labels]) =>
      name === "pop3d_logins" && type === "counter" && labels.result === "ok"
    );
    assert.deepEqual(logins.map(([, , l]) => l.worker).sort(), ["1", "2"]);
    assert.equal(logins.reduce((sum, [, , , v]) => sum + v, 0), 16);
    assert.ok(parsed.some(([name]) => name === "pop3d_workers"));
  });

  it("a maildrop in use in one worker is in use in the other (one lock for both)", async () => {
    // alice's session stays open after PASS; each other login for her is
    // refused, in whichever worker the kernel puts it.
    const first = net.connect({ host: "127.0.0.1", port });
    let text = "";
    first.setEncoding("latin1");
    first.on("data", (chunk: string) => void (text += chunk));
    first.write("USER alice\r\nPASS alice-pw\r\n");
    const deadline = Date.now() + 10_000;
    while (!/\r\n.*\r\n\+OK/s.test(text) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    try {
      assert.match(text, /\r\n.*\r\n\+OK/s, "alice's first session");
      // Logins until both workers refused one (the kernel picks the worker
      // by a hash of the address: 8 in a row in one worker happened).
      const skip = program.records.length;
      const refusers = () =>
        new Set(
          program.records.slice(skip).filter((r) =>
            r.event === "login-failed" && r.reason === "in-use"
          ).map((r) => Number(r.id) % 2),
        );
      for (let i = 0; i < 40 && refusers().size < 2; i++) {
        assert.match(await session(port, "alice-pw"), /^-ERR \[IN-USE\]/);
      }
      // (Log lines come in batches: wait for the last ones.)
      const logged = Date.now() + 5000;
      while (refusers().size < 2 && Date.now() < logged) {
        await new Promise((r) => setTimeout(r, 50));
      }
      // All 40 in one worker is 2^-39.
      assert.equal(refusers().size, 2, `refused by ${[...refusers()]}`);
    } finally {
      first.end("QUIT\r\n");
    }
  });

  it("a failed login in one worker puts the address under penalty in both", async () => {
    assert.match(await session(port, "wrong"), /^-ERR/);
    const deadline = Date.now() + 10_000;
    let text = "";
    while (Date.now() < deadline) {
      text = await (await fetch(metrics)).text();
      const both = [1, 2].every((w) =>
        value(text, `pop3d_auth_penalty_addresses{worker="${w}"}`) === 1
      );
      if (both) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`not penalised in both workers:\n${text}`);
  });

  it("the workers answer the supervisor: none was taken for stuck (--worker-timeout 2s)", async () => {
    // Quiet for longer than the timeout: only the answers to the pings
    // keep the workers from being taken for stuck.
    await new Promise((r) => setTimeout(r, 3_000));
    const ended = program.records.filter((r) =>
      r.event === "worker-stuck" || r.event === "worker-exit"
    );
    assert.deepEqual(ended, []);
  });

  it("SIGHUP reloads every worker; SIGTERM stops them all and exits 0", async () => {
    const skip = program.records.length;
    program.signal("SIGHUP");
    for (const worker of [1, 2]) {
      await program.waitFor(
        (r) => r.event === "reloaded" && r.worker === worker,
        20_000,
        skip,
      );
    }
    program.signal("SIGTERM");
    assert.equal(await program.exited, 0);
    const stopped = program.records.filter((r) => r.event === "stopped");
    assert.deepEqual(stopped.map((r) => r.worker ?? 0).sort(), [0, 1, 2]);
  });
});

describe("pop3d --workers: settings that cannot go with it", () => {
  let site: Site;
  before(async () => {
    site = await makeSite();
  });
  after(async () => {
    await site?.remove();
  });

  it("exits 2 naming the setting, once", async () => {
    const zero = await runProgram([...site.args, "--workers", "2"]);
    assert.equal(zero.code, 2, zero.stderr);
    assert.match(zero.stderr, /--port 0 cannot go with --workers 2/);
    const range = await runProgram([...site.args, "--workers", "0"]);
    assert.equal(range.code, 2, range.stderr);
    assert.match(range.stderr, /--workers must be from 1 to 256/);
    const port = String(await freePort());
    const missing = await runProgram([
      ...site.args.map((a) => a === "0" ? port : a).map((a) =>
        a === site.passwd ? join(site.dir, "missing") : a
      ),
      "--workers",
      "3",
    ]);
    assert.equal(missing.code, 2, missing.stderr);
    const lines = missing.stderr.split("\n").filter((l) =>
      l.includes("missing")
    );
    assert.equal(lines.length, 1, missing.stderr);
    assert.match(lines[0], /--passwd/);
  });

  it("exits 1 naming --metrics-port when it is taken, and stops the workers", async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const taken = (busy.address() as net.AddressInfo).port;
    try {
      const port = String(await freePort());
      const result = await runProgram([
        ...site.args.map((a) => a === "0" ? port : a),
        "--workers",
        "2",
        "--metrics-port",
        String(taken),
      ]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /\(--metrics-port\): the address is already in use/,
      );
      const stopped = result.stderr.split("\n").filter((l) =>
        l.includes('"event":"stopped"')
      );
      assert.equal(stopped.length, 2, result.stderr);
    } finally {
      busy.close();
    }
  });
});
