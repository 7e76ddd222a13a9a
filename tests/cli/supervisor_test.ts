/**
 * The `--workers` supervisor's decisions, with threads it cannot tell from
 * real ones (the `WorkerThread` seam): a worker that dies is started again
 * and counted; one that cannot start stops the rest and gives its exit
 * code; logins are passed to the other workers; signals reach every
 * worker. Also the parts it is made of: merging the workers' metrics,
 * the worker's settings, its log lines.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Host, nodeHost, type WorkerThread } from "../../src/cli/host.ts";
import { makeSite } from "../_helpers/cli_program.ts";
import { freePort } from "../_helpers/free_port.ts";
import { Log } from "../../src/cli/log.ts";
import { mergeExpositions } from "../../src/cli/metrics_merge.ts";
import { supervise } from "../../src/cli/supervisor.ts";
import { main } from "../../src/cli/main.ts";
import { runWorker } from "../../src/cli/worker_main.ts";
import {
  type FromWorker,
  keepFixed,
  type ToWorker,
  workerConfig,
  type WorkerData,
} from "../../src/cli/worker_role.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import type { Config } from "../../src/cli/config.ts";

class FakeThread implements WorkerThread {
  readonly data: WorkerData;
  readonly received: ToWorker[] = [];
  #message: ((m: FromWorker) => void)[] = [];
  #exit: ((code: number, error?: Error) => void)[] = [];
  ended = false;
  /** Whether it answers the supervisor's pings (a stuck one does not). */
  answers = true;
  terminated = false;
  constructor(data: WorkerData) {
    this.data = data;
  }
  post(message: ToWorker): void {
    if (message.type === "ping") {
      if (this.answers) queueMicrotask(() => this.send({ type: "pong" }));
      return;
    }
    this.received.push(message);
    // A worker asked to stop says it is done with 0 and ends.
    if (message.type === "signal" && message.signal === "SIGTERM") {
      queueMicrotask(() => {
        this.send({ type: "done", code: 0 });
        this.end(0);
      });
    }
  }
  onMessage(handler: (m: FromWorker) => void): void {
    this.#message.push(handler);
  }
  onExit(handler: (code: number, error?: Error) => void): void {
    this.#exit.push(handler);
  }
  terminate(): void {
    this.terminated = true;
    queueMicrotask(() => this.end(1));
  }
  send(message: FromWorker): void {
    for (const h of this.#message) h(message);
  }
  end(code: number, error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    for (const h of this.#exit) h(code, error);
  }
}

/** The supervisor's end as a worker sees it, recording what the worker posts. */
function fakeLink(data: WorkerData) {
  const posted: FromWorker[] = [];
  const waiting = new Map<string, () => void>();
  let handler: ((m: ToWorker) => void) | undefined;
  const link = {
    data,
    post(m: FromWorker) {
      posted.push(m);
      waiting.get(m.type)?.();
    },
    onMessage: (h: (m: ToWorker) => void) => void (handler = h),
  };
  return {
    link,
    posted,
    /** Sends the worker a message from the supervisor. */
    deliver: (m: ToWorker) => handler!(m),
    /** Resolves when the worker posts a message of this type. */
    said: (type: string) =>
      new Promise<void>((resolve) => waiting.set(type, resolve)),
  };
}

function fakeHost(start: (thread: FakeThread) => void) {
  const signals = new Map<string, () => void>();
  const threads: FakeThread[] = [];
  const err: string[] = [];
  const host: Host = {
    args: ["--workers", "2"],
    env: () => undefined,
    out: () => {},
    err: (text) => void err.push(text),
    readLine: () => Promise.resolve(""),
    readText: () => Promise.reject(new Error("no files here")),
    writeTextAtomic: () => Promise.resolve(),
    isDirectory: () => Promise.resolve(true),
    onSignal: (signal, handler) => void signals.set(signal, handler),
    exit: (code) => {
      throw new Error(`exit ${code}`);
    },
    startWorker(data) {
      const thread = new FakeThread(data);
      threads.push(thread);
      queueMicrotask(() => start(thread));
      return thread;
    },
  };
  return { host, signals, threads, err };
}

const CONFIG: Config = {
  maildir: "/nonexistent/mail",
  passwd: "/nonexistent/passwd",
  port: 1110,
  hostname: ["127.0.0.1"],
  workers: 2,
  "worker-young-generation": 3,
  "log-format": "json",
};

const load = () => Promise.resolve(CONFIG);

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const events = (err: string[]) =>
  err.map((line) =>
    JSON.parse(line) as { event: string; [k: string]: unknown }
  );

describe("supervise (--workers)", () => {
  it("starts a dead worker again, passes logins on, and stops all on SIGTERM", async () => {
    const { host, signals, threads, err } = fakeHost((t) =>
      t.send({ type: "ready" })
    );
    const done = supervise(host, load, CONFIG, 2);
    await until(() => events(err).some((e) => e.event === "ready"), "ready");
    assert.deepEqual(threads.map((t) => t.data.index), [1, 2]);
    assert.ok(threads.every((t) => t.data.count === 2));
    // Each worker gets the start-only settings as read at start, and
    // none that SIGHUP applies.
    assert.equal(threads[0].data.fixed?.port, 1110);
    assert.equal(threads[0].data.fixed?.maildir, "/nonexistent/mail");
    assert.ok(!("log-format" in threads[0].data.fixed!));
    assert.ok(threads.every((t) => t.data.youngGenerationMb === 3));

    threads[0].send({ type: "login", remotes: ["192.0.2.9"], ok: false });
    assert.deepEqual(threads[1].received, [
      { type: "peer-login", remotes: ["192.0.2.9"], ok: false },
    ]);
    assert.deepEqual(threads[0].received, []);

    threads[0].end(1, new Error("boom"));
    await until(() => threads.length === 3, "a new thread for worker 1");
    assert.equal(threads[2].data.index, 1);
    await until(
      () => events(err).some((e) => e.event === "worker-restarted"),
      "worker-restarted",
    );
    const exit = events(err).find((e) => e.event === "worker-exit");
    assert.deepEqual(
      { worker: exit?.worker, code: exit?.code, error: exit?.error },
      { worker: 1, code: 1, error: "boom" },
    );

    signals.get("SIGTERM")!();
    assert.equal(await done, 0);
    for (const t of [threads[1], threads[2]]) {
      assert.ok(
        t.received.some((m) => m.type === "signal" && m.signal === "SIGTERM"),
      );
    }
    assert.ok(events(err).some((e) => e.event === "stopped"));
  });

  it("stops the started workers and exits with the code of one that could not start", async () => {
    const { host, threads } = fakeHost((t) => {
      if (t.data.index === 1) return t.send({ type: "ready" });
      t.send({ type: "err", text: "pop3d: --passwd: cannot read\n" });
      t.send({ type: "done", code: 2 });
      t.end(0);
    });
    assert.equal(await supervise(host, load, CONFIG, 2), 2);
    assert.equal(threads.length, 2);
    assert.ok(
      threads[0].received.some((m) =>
        m.type === "signal" && m.signal === "SIGTERM"
      ),
    );
  });

  it("takes SIGHUP and SIGTERM while the workers start: passes a reload on, stops the started ones and exits 0", async () => {
    // Starting N workers takes N times a thread's start-up (0.3-0.5 s each
    // on Node): a SIGHUP from logrotate then must not end the process.
    const { host, signals, threads, err } = fakeHost(() => {});
    const done = supervise(host, load, CONFIG, 2);
    await until(() => threads.length === 1, "worker 1 starting");
    assert.ok(signals.has("SIGHUP") && signals.has("SIGTERM"));
    signals.get("SIGHUP")!();
    await until(
      () => threads[0].received.some((m) => m.type === "signal"),
      "the SIGHUP passed on",
    );
    assert.deepEqual(threads[0].received, [{
      type: "signal",
      signal: "SIGHUP",
    }]);
    threads[0].send({ type: "ready" });
    await until(() => threads.length === 2, "worker 2 starting");
    signals.get("SIGTERM")!();
    assert.equal(await done, 0);
    assert.equal(threads.length, 2);
    for (const t of threads) {
      assert.ok(
        t.received.some((m) => m.type === "signal" && m.signal === "SIGTERM"),
      );
    }
    const names = events(err).map((e) => e.event);
    assert.ok(!names.includes("ready"), names.join(" "));
    assert.deepEqual(names.slice(-2), ["stopping", "stopped"]);
  });

  it("ends a worker that stops answering (worker-timeout) and starts it again; leaves one that answers alone", async () => {
    const { host, signals, threads, err } = fakeHost((t) => {
      // The first thread of worker 2 is stuck once it has started.
      if (t.data.index === 2 && threads.indexOf(t) === 1) t.answers = false;
      t.send({ type: "ready" });
    });
    const config = { ...CONFIG, "worker-timeout": 200 };
    const done = supervise(host, () => Promise.resolve(config), config, 2);
    await until(
      () => events(err).some((e) => e.event === "worker-restarted"),
      "worker-restarted",
    );
    const stuck = events(err).find((e) => e.event === "worker-stuck");
    assert.equal(stuck?.worker, 2);
    assert.ok((stuck?.silent_ms as number) > 200);
    const exit = events(err).find((e) => e.event === "worker-exit");
    assert.equal(exit?.worker, 2);
    assert.match(String(exit?.error), /did not answer for 200 ms/);
    assert.deepEqual(threads.map((t) => t.data.index), [1, 2, 2]);
    assert.deepEqual(threads.map((t) => t.terminated), [false, true, false]);
    // The new thread answers, and stays.
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(threads.length, 3);
    assert.equal(
      events(err).filter((e) => e.event === "worker-stuck").length,
      1,
    );
    signals.get("SIGTERM")!();
    assert.equal(await done, 0);
  });

  it("fails the start when a worker does not answer while it starts", async () => {
    const { host, threads, err } = fakeHost((t) => {
      t.answers = false;
    });
    const config = { ...CONFIG, "worker-timeout": 200 };
    const code = await supervise(
      host,
      () => Promise.resolve(config),
      config,
      2,
    );
    assert.notEqual(code, 0);
    assert.equal(threads.length, 1);
    const fatal = events(err).find((e) => e.event === "fatal");
    assert.match(
      String(fatal?.error),
      /worker 1 did not start: did not answer for 200 ms \(worker-timeout\)/,
    );
  });

  it("--workers auto starts one worker per CPU the host has", async () => {
    const { host, signals, threads, err } = fakeHost((t) =>
      t.send({ type: "ready" })
    );
    host.args = [
      "--maildir",
      "/nonexistent/mail",
      "--passwd",
      "/nonexistent/passwd",
      "--port",
      "1110",
      "--log-format",
      "json",
      "--workers",
      "auto",
    ];
    host.cpus = () => 3;
    const done = main(host);
    await until(() => events(err).some((e) => e.event === "ready"), "ready");
    assert.deepEqual(threads.map((t) => [t.data.index, t.data.count]), [
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    signals.get("SIGTERM")!();
    assert.equal(await done, 0);
  });

  it("refuses port 0, naming the setting", async () => {
    const { host } = fakeHost(() => {});
    await assert.rejects(
      supervise(host, load, { ...CONFIG, "lmtp-port": 0 }, 2),
      /--lmtp-port 0 cannot go with --workers 2/,
    );
  });
});

describe("the parts of --workers", () => {
  it("mergeExpositions labels each worker's samples and keeps families whole", () => {
    const a = [
      "# HELP x_total Things.",
      "# TYPE x_total counter",
      'x_total{kind="a"} 1',
      "# HELP y Now.",
      "# TYPE y gauge",
      "y 5",
      "",
    ].join("\n");
    const b = a.replace('x_total{kind="a"} 1', 'x_total{kind="a"} 2')
      .replace("y 5", "y 7");
    assert.equal(
      mergeExpositions([{ worker: 1, text: a }, { worker: 2, text: b }]),
      [
        "# HELP x_total Things.",
        "# TYPE x_total counter",
        'x_total{worker="1",kind="a"} 1',
        'x_total{worker="2",kind="a"} 2',
        "# HELP y Now.",
        "# TYPE y gauge",
        'y{worker="1"} 5',
        'y{worker="2"} 7',
        "",
      ].join("\n"),
    );
    assert.equal(mergeExpositions([{ worker: 1, text: "" }]), "");
  });

  it("keepFixed puts the start-only settings back and names those that differed", () => {
    const now = { port: 1111, maildir: "/srv/mail", "log-format": "text" };
    const { config, kept } = keepFixed(now, {
      port: 110,
      maildir: "/srv/mail",
    });
    assert.deepEqual(config, { ...now, port: 110 });
    assert.deepEqual(kept, ["port"]);
    assert.deepEqual(keepFixed(now, undefined), { config: now, kept: [] });
  });

  it("workerConfig shares the ports, drops the metrics port and divides max-connections", () => {
    const c = workerConfig({ "metrics-port": 9110 }, 4);
    assert.equal(c["reuse-port"], true);
    assert.equal(c["metrics-port"], undefined);
    assert.equal(c["max-connections"], 250); // the library's 1000 / 4
    assert.equal(
      workerConfig({ "max-connections": 5 }, 2)["max-connections"],
      3,
    );
  });

  it("a worker's log numbers sessions k, k+n, ... and marks lines without a session", () => {
    const lines: string[] = [];
    const log = new Log((l) => lines.push(l), "json", { index: 2, count: 3 });
    for (const id of [1, 2]) {
      log.event({ type: "open", id, remote: "::1", encrypted: false });
    }
    log.line("reloaded", { ok: true });
    const records = lines.map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => r.id), [2, 5, undefined]);
    assert.deepEqual(records.map((r) => r.worker), [undefined, undefined, 2]);
  });

  it("Pop3d.recordLoginOutcome feeds the auth penalty, and checks its arguments", () => {
    const server = new Pop3d({ authPenalty: 1000 });
    server.recordLoginOutcome("192.0.2.7", false);
    assert.equal(server.stats().authPenalties, 1);
    server.recordLoginOutcome("192.0.2.7", true);
    assert.equal(server.stats().authPenalties, 0);
    assert.throws(
      () => server.recordLoginOutcome(7 as unknown as string, false),
      TypeError,
    );
    assert.throws(
      () => server.recordLoginOutcome("192.0.2.7", "no" as unknown as boolean),
      TypeError,
    );
  });
});

describe("runWorker (a --workers thread)", () => {
  it("a worker started again keeps the running workers' port when the settings file changed, and says so", async () => {
    const site = await makeSite();
    try {
      const running = await freePort();
      const args = [...site.args, "--workers", "2"];
      // The file now says port 0; the workers started on `running`.
      const { link, posted, deliver, said } = fakeLink({
        args,
        index: 2,
        count: 2,
        fixed: { port: running },
      });
      const done = runWorker(link, nodeHost(), main);
      await said("ready");
      deliver({ type: "signal", signal: "SIGTERM" });
      await done;
      const lines = posted.filter((m) => m.type === "err")
        .flatMap((m) => (m as { text: string }).text.trim().split("\n"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const listening = lines.find((l) =>
        l.event === "listening" && l.proto === "pop3"
      );
      assert.equal(listening?.address, `127.0.0.1:${running}`);
      const kept = lines.filter((l) => l.event === "setting-kept");
      assert.deepEqual(kept.map((l) => l.setting), ["port"]);
    } finally {
      await site.remove();
    }
  });

  it("answers the supervisor's ping at once, even while it starts", async () => {
    const { link, posted, deliver } = fakeLink({
      args: ["serve"],
      index: 1,
      count: 2,
    });
    const { host } = fakeHost(() => {});
    await runWorker(link, host, () => {
      deliver({ type: "ping" });
      assert.deepEqual(posted, [{ type: "pong" }]);
      return Promise.resolve(0);
    });
    assert.deepEqual(posted, [{ type: "pong" }, { type: "done", code: 0 }]);
  });

  it("keeps a signal that comes before the program listens for it, sends log lines in batches, and says done with its code last", async () => {
    const { link, posted, deliver } = fakeLink({
      args: ["serve"],
      index: 2,
      count: 3,
    });
    const { host } = fakeHost(() => {});
    const run = async (h: Host, role: { index: number; count: number }) => {
      assert.deepEqual([role.index, role.count, h.args], [2, 3, ["serve"]]);
      // The supervisor stops the worker before it has set up its signals.
      deliver({ type: "signal", signal: "SIGTERM" });
      await new Promise((r) => setTimeout(r, 10));
      h.err("starting\n");
      h.err("still starting\n");
      return await new Promise<number>((resolve) =>
        h.onSignal("SIGTERM", () => resolve(7))
      );
    };
    await runWorker(link, host, run);
    assert.deepEqual(posted, [
      { type: "err", text: "starting\nstill starting\n" },
      { type: "done", code: 7 },
    ]);
  });

  it("sends successful logins in batches, each address once, and a failure at once after them", async () => {
    const { link, posted, deliver } = fakeLink({
      args: ["serve"],
      index: 1,
      count: 2,
    });
    const { host } = fakeHost(() => {});
    const logins = () => posted.filter((m) => m.type === "login");
    const seen: [string, boolean][] = [];
    await runWorker(link, host, async (_h, role) => {
      role.onPeerLogin((remote, ok) => seen.push([remote, ok]));
      deliver({ type: "peer-login", remotes: ["192.0.2.1", "::1"], ok: true });
      assert.deepEqual(seen, [["192.0.2.1", true], ["::1", true]]);
      for (let i = 0; i < 50; i++) role.shareLogin("192.0.2.7", true);
      role.shareLogin("192.0.2.8", true);
      assert.deepEqual(logins(), [], "successes wait for the batch");
      role.shareLogin("192.0.2.7", false);
      assert.deepEqual(logins(), [
        { type: "login", remotes: ["192.0.2.7", "192.0.2.8"], ok: true },
        { type: "login", remotes: ["192.0.2.7"], ok: false },
      ]);
      role.shareLogin("192.0.2.9", true);
      role.shareLogin("192.0.2.9", true);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(logins().slice(2), [
        { type: "login", remotes: ["192.0.2.9"], ok: true },
      ]);
      role.shareLogin("192.0.2.10", true);
      return 0;
    });
    // What was still waiting goes before "done".
    assert.deepEqual(posted.slice(-2), [
      { type: "login", remotes: ["192.0.2.10"], ok: true },
      { type: "done", code: 0 },
    ]);
  });

  it("sends the lines and logins it holds when its thread ends of an uncaught error", async () => {
    const { link, posted } = fakeLink({ args: ["serve"], index: 1, count: 2 });
    let atExit: (() => void) | undefined;
    const dying = { ...link, onExit: (h: () => void) => void (atExit = h) };
    const { host } = fakeHost(() => {});
    await runWorker(dying, host, async (h, role) => {
      h.err("first\n");
      await new Promise((r) => setTimeout(r, 5));
      h.err("last words\n"); // waits for the next batch, 20 ms on
      role.shareLogin("192.0.2.5", true);
      atExit!(); // the thread ends now, before that batch
      assert.deepEqual(posted.slice(-2), [
        { type: "err", text: "last words\n" },
        { type: "login", remotes: ["192.0.2.5"], ok: true },
      ]);
      return 0;
    });
  });

  it("sends a line after a quiet spell at once, and under load the lines of 20 ms in one message", async () => {
    const { link, posted } = fakeLink({ args: ["serve"], index: 1, count: 2 });
    const { host } = fakeHost(() => {});
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const batches = () => posted.filter((m) => m.type === "err").length;
    await runWorker(link, host, async (h) => {
      h.err("first\n");
      await sleep(5);
      assert.equal(batches(), 1, "the first line went at the next turn");
      // A line every 2 ms for 200 ms: one message per turn would be ~100.
      const start = Date.now();
      let n = 0;
      while (Date.now() - start < 200) {
        h.err(`line ${n++}\n`);
        await sleep(2);
      }
      const during = batches() - 1;
      assert.ok(during <= 200 / 20 + 2, `${during} messages for ${n} lines`);
      return 0;
    });
    const text = posted.filter((m) => m.type === "err")
      .map((m) => (m as { text: string }).text).join("");
    assert.equal(
      text.split("\n").length - 1,
      1 + Number(/line (\d+)\n$/.exec(text)![1]) + 1,
    );
  });
});
