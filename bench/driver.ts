/**
 * POP3 load driver (Deno). Targets any POP3 server by host and port.
 *
 *     deno run -A bench/driver.ts --port 1110 --mode sessions --clients 16 --duration 10
 *     deno run -A bench/driver.ts --port 1110 --mode bulk --user big --repeat 5
 *     deno run -A bench/driver.ts --port 1110 --mode idle --conns 1000 --login --pid 1234
 *
 * Modes:
 * - sessions: C clients loop connect, USER, PASS, STAT, LIST, RETR every
 *   message, QUIT (no DELE) for D seconds after a warm-up; sessions/s, MB/s,
 *   latency per session p50/p99.
 * - bulk: one connection RETRs message 1 N times; MB/s, with the octet count
 *   of every reply checked against its `+OK n octets` line and the dot-stuffing
 *   and terminator checked.
 * - idle: N connections held open (after USER/PASS with --login); with --pid,
 *   the server's memory (VmRSS and Pss summed over its process tree) before
 *   and after, in KiB per connection.
 *
 * - handshakes: like sessions, but each connection only reads the greeting
 *   (after the TLS handshake with `--tls`) and QUITs; handshakes/s.
 * - digest: SHA-256 of the RETR bodies of `<user>1` (messages 1..10) and
 *   `big` (message 1), to check that servers send identical bytes.
 *
 * `--tls stls` upgrades every connection with STLS after the greeting,
 * `--tls implicit` connects with TLS (POP3S); both verify the server's
 * certificate against `--ca FILE` and await the handshake.
 *
 * Prints one JSON object on stdout and one human line on stderr. With
 * `--procs K` (sessions, bulk is always one connection) K driver processes
 * share the clients and the parent sums their results. `driver_cpu_pct` is
 * the driver's own CPU time over the measured window (100 = one core busy).
 *
 * @module
 */

import { ReplyReader } from "./_reply_reader.ts";
import {
  cpuSeconds,
  machineBusyPct,
  machineTicks,
  type TreeMemory,
  treeMemory,
} from "./_proc.ts";

interface Args {
  host: string;
  port: number;
  mode: "sessions" | "bulk" | "idle" | "handshakes" | "digest";
  tls: "none" | "stls" | "implicit";
  ca: string;
  user: string;
  users: number;
  pass: string;
  clients: number;
  duration: number;
  warmup: number;
  procs: number;
  repeat: number;
  conns: number;
  login: boolean;
  settle: number;
  openConcurrency: number;
  pid: number;
  bufsize: number;
  label: string;
  verify: string;
  child: boolean;
  startAt: number;
  clientOffset: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    host: "127.0.0.1",
    port: 0,
    mode: "sessions",
    tls: "none",
    ca: "",
    user: "alice",
    users: 0,
    pass: "secret",
    clients: 16,
    duration: 10,
    warmup: 1,
    procs: 1,
    repeat: 5,
    conns: 1000,
    login: false,
    settle: 2,
    openConcurrency: 64,
    pid: 0,
    bufsize: 0,
    label: "",
    verify: "first",
    child: false,
    startAt: 0,
    clientOffset: 0,
  };
  const numeric = new Set([
    "port",
    "users",
    "clients",
    "duration",
    "warmup",
    "procs",
    "repeat",
    "conns",
    "settle",
    "openConcurrency",
    "pid",
    "bufsize",
    "startAt",
    "clientOffset",
  ]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      throw new TypeError(`Unexpected argument "${arg}"`);
    }
    const key = arg.slice(2).replace(
      /-([a-z])/g,
      (_, c: string) => c.toUpperCase(),
    );
    if (!(key in a)) throw new TypeError(`Unknown option "${arg}"`);
    const rec = a as unknown as Record<string, unknown>;
    if (typeof rec[key] === "boolean") {
      rec[key] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) {
      throw new TypeError(`Option "${arg}" needs a value`);
    }
    if (numeric.has(key)) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) {
        throw new RangeError(
          `Option "${arg}" needs a non-negative number, got "${value}"`,
        );
      }
      rec[key] = n;
    } else rec[key] = value;
  }
  if (!["sessions", "bulk", "idle", "handshakes", "digest"].includes(a.mode)) {
    throw new TypeError(`Unknown mode "${a.mode}"`);
  }
  if (!["first", "all"].includes(a.verify)) {
    throw new TypeError(
      `Option "--verify" takes "first" or "all", got "${a.verify}"`,
    );
  }
  if (!["none", "stls", "implicit"].includes(a.tls)) {
    throw new TypeError(
      `Option "--tls" takes "none", "stls" or "implicit", got "${a.tls}"`,
    );
  }
  if (a.tls !== "none" && a.ca === "") {
    throw new TypeError(`Option "--tls ${a.tls}" needs --ca FILE`);
  }
  if (a.port === 0) throw new TypeError("Option --port is required");
  if (a.bufsize === 0) a.bufsize = a.mode === "bulk" ? 1 << 18 : 1 << 16;
  return a;
}

const enc = new TextEncoder();

function userName(a: Args, client: number): string {
  return a.users > 0 ? `${a.user}${(client % a.users) + 1}` : a.user;
}

let caCerts: string[] | undefined;
const NOTHING = { read: () => Promise.resolve(null) };

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

const STLS = enc.encode("STLS\r\n");

/**
 * Connects, reads the greeting and, with `--tls stls`, upgrades with STLS
 * (implicit TLS: the handshake comes first). The TLS handshake is awaited
 * here, so its cost is part of whatever mode measures. Returns the
 * connection, with `r` reading from it.
 */
async function open(a: Args, r: ReplyReader): Promise<Deno.Conn> {
  caCerts ??= a.ca ? [Deno.readTextFileSync(a.ca)] : undefined;
  const tcp = await Deno.connect({ hostname: a.host, port: a.port });
  tcp.setNoDelay(true);
  // Implicit TLS as startTls on a TCP connection: a Deno.connectTls conn
  // cannot set no-delay, and Nagle then holds the first command behind the
  // client's unacknowledged Finished (~40 ms per connection, any server).
  let conn: Deno.Conn = a.tls === "implicit"
    ? await Deno.startTls(tcp, { hostname: a.host, caCerts })
    : tcp;
  r.reset(conn);
  try {
    await expectOk(r, "Greeting");
    if (a.tls === "stls") {
      await writeAll(conn, STLS);
      await expectOk(r, "STLS");
      if (!r.drained) throw new Error("STLS: bytes after +OK");
      conn = await Deno.startTls(conn as Deno.TcpConn, {
        hostname: a.host,
        caCerts,
      });
      r.reset(conn);
    }
    if (conn !== undefined && "handshake" in conn) {
      await (conn as Deno.TlsConn).handshake();
    }
  } catch (error) {
    conn.close();
    throw error;
  }
  return conn;
}

async function expectOk(r: ReplyReader, what: string): Promise<void> {
  if (!(await r.status())) throw new Error(`${what}: ${r.lineText()}`);
}

/** Connects and logs in; returns the connection, its reader and STAT's count. */
async function login(
  a: Args,
  user: string,
  bufsize: number,
): Promise<{ conn: Deno.Conn; r: ReplyReader }> {
  const r = new ReplyReader(NOTHING, bufsize);
  const conn = await open(a, r);
  try {
    await writeAll(conn, enc.encode(`USER ${user}\r\n`));
    await expectOk(r, "USER");
    await writeAll(conn, enc.encode(`PASS ${a.pass}\r\n`));
    await expectOk(r, "PASS");
  } catch (error) {
    conn.close();
    throw error;
  }
  return { conn, r };
}

const RETR_CMDS: Uint8Array[] = [];
function retrCommand(n: number): Uint8Array {
  return RETR_CMDS[n] ??= enc.encode(`RETR ${n}\r\n`);
}
const STAT = enc.encode("STAT\r\n");
const LIST = enc.encode("LIST\r\n");
const QUIT = enc.encode("QUIT\r\n");

/**
 * RETRs message `n`. With `knownWire` 0 the body is scanned: the octet count
 * after un-stuffing must match the `+OK n octets` line, every line-start dot
 * must be stuffed, and nothing may follow the terminator. With `knownWire`
 * set (bulk, after one such check of the same message) only the exact byte
 * count and the terminator are checked. Returns the octet count and the
 * body's size on the wire.
 */
async function retr(
  conn: Deno.Conn,
  r: ReplyReader,
  n: number,
  knownWire = 0,
): Promise<{ octets: number; wire: number }> {
  await writeAll(conn, retrCommand(n));
  await expectOk(r, `RETR ${n}`);
  const declared = r.field(1);
  if (knownWire > 0) {
    await r.knownBody(knownWire);
    return { octets: declared, wire: knownWire };
  }
  const { octets, wire } = await r.multiLine();
  if (octets !== declared) {
    throw new Error(
      `RETR ${n}: got ${octets} octets, "+OK" line said ${declared}`,
    );
  }
  if (!r.drained) throw new Error(`RETR ${n}: bytes after the terminator`);
  return { octets, wire };
}

/** One complete session; returns bytes received and messages retrieved. */
async function session(
  a: Args,
  r: ReplyReader,
  user: Uint8Array,
  pass: Uint8Array,
) {
  const conn = await open(a, r);
  let messages = 0;
  try {
    await writeAll(conn, user);
    await expectOk(r, "USER");
    await writeAll(conn, pass);
    await expectOk(r, "PASS");
    await writeAll(conn, STAT);
    await expectOk(r, "STAT");
    const count = r.field(1);
    await writeAll(conn, LIST);
    await expectOk(r, "LIST");
    const { lines } = await r.multiLine(true);
    if (lines !== count) {
      throw new Error(`LIST: ${lines} lines, STAT said ${count}`);
    }
    for (let i = 1; i <= count; i++) {
      await retr(conn, r, i);
      messages++;
    }
    await writeAll(conn, QUIT);
    await expectOk(r, "QUIT");
  } finally {
    conn.close();
  }
  return { bytes: r.bytes, messages };
}

/** Connects (TLS handshake included), reads the greeting, QUITs. */
async function handshake(a: Args, r: ReplyReader) {
  const conn = await open(a, r);
  try {
    await writeAll(conn, QUIT);
    await expectOk(r, "QUIT");
  } finally {
    conn.close();
  }
  return { bytes: r.bytes, messages: 0 };
}

/**
 * SHA-256 (hex, 16 digits) of the bodies of RETR 1..10 of `alice1` and
 * RETR 1 of `big`, status lines left out (servers word them differently).
 */
async function runDigest(a: Args) {
  const bodies: Uint8Array[] = [];
  const retrAll = async (user: string, count: number) => {
    const { conn } = await login(a, user, 1 << 16);
    const pending: Uint8Array[] = [];
    const r = new ReplyReader({
      async read(p) {
        const n = await conn.read(p);
        if (n !== null) pending.push(p.slice(0, n));
        return n;
      },
    }, 1 << 16);
    try {
      for (let i = 1; i <= count; i++) {
        pending.length = 0;
        await writeAll(conn, retrCommand(i));
        await expectOk(r, `RETR ${i}`);
        await r.multiLine();
        if (!r.drained) throw new Error(`RETR ${i}: bytes after the reply`);
        const x = concat(pending);
        bodies.push(x.subarray(x.indexOf(0x0a) + 1));
      }
      await writeAll(conn, QUIT);
      await expectOk(r, "QUIT");
    } finally {
      conn.close();
    }
  };
  await retrAll(`${a.user}1`, 10);
  await retrAll("big", 1);
  const hash = await crypto.subtle.digest("SHA-256", concat(bodies));
  return {
    mode: "digest",
    label: a.label,
    port: a.port,
    tls: a.tls,
    bytes: bodies.reduce((n, b) => n + b.length, 0),
    digest: [...new Uint8Array(hash).slice(0, 8)].map((x) =>
      x.toString(16).padStart(2, "0")
    ).join(""),
  };
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

interface SessionsPart {
  sessions: number;
  bytes: number;
  messages: number;
  errors: number;
  first_error: string | null;
  latencies: number[];
  driver_cpu_s: number;
}

async function sessionsPart(a: Args, clients: number): Promise<SessionsPart> {
  const part: SessionsPart = {
    sessions: 0,
    bytes: 0,
    messages: 0,
    errors: 0,
    first_error: null,
    latencies: [],
    driver_cpu_s: 0,
  };
  if (a.startAt > 0) await sleep(Math.max(0, a.startAt - Date.now()));
  const t0 = performance.now();
  const from = t0 + a.warmup * 1000;
  const until = from + a.duration * 1000;
  let cpuFrom = 0;
  const cpuTimer = setTimeout(
    () => cpuFrom = cpuSeconds(Deno.pid, false),
    a.warmup * 1000,
  );
  async function client(id: number) {
    const user = enc.encode(`USER ${userName(a, id)}\r\n`);
    const pass = enc.encode(`PASS ${a.pass}\r\n`);
    const reader = new ReplyReader(NOTHING, a.bufsize);
    while (performance.now() < until) {
      const s = performance.now();
      try {
        const { bytes, messages } = a.mode === "handshakes"
          ? await handshake(a, reader)
          : await session(a, reader, user, pass);
        const e = performance.now();
        if (e >= from && e < until) {
          part.sessions++;
          part.bytes += bytes;
          part.messages += messages;
          part.latencies.push(round(e - s, 3));
        }
      } catch (error) {
        part.errors++;
        part.first_error ??= String(error);
        if (part.errors > 100) {
          throw new Error(`Too many errors: ${part.first_error}`);
        }
        await sleep(10);
      }
    }
  }
  const ends = [];
  for (let i = 0; i < clients; i++) ends.push(client(a.clientOffset + i));
  await Promise.all(ends);
  clearTimeout(cpuTimer);
  part.driver_cpu_s = cpuSeconds(Deno.pid, false) - cpuFrom;
  return part;
}

async function runChildren(a: Args, argv: string[]): Promise<SessionsPart[]> {
  const startAt = Date.now() + 1000;
  const self = new URL(import.meta.url).pathname;
  const children = [];
  let offset = 0;
  for (let k = 0; k < a.procs; k++) {
    const clients = Math.floor(a.clients / a.procs) +
      (k < a.clients % a.procs ? 1 : 0);
    const args = [
      "run",
      "-A",
      self,
      ...argv,
      "--child",
      "--procs",
      "1",
      "--clients",
      String(clients),
      "--start-at",
      String(startAt),
      "--client-offset",
      String(offset),
    ];
    offset += clients;
    const cmd = new Deno.Command(Deno.execPath(), {
      args,
      stdout: "piped",
      stderr: "inherit",
    });
    children.push(cmd.output());
  }
  const outs = await Promise.all(children);
  return outs.map((o, k) => {
    if (!o.success) throw new Error(`Driver process ${k} failed`);
    return JSON.parse(new TextDecoder().decode(o.stdout)) as SessionsPart;
  });
}

async function runSessions(a: Args, argv: string[]) {
  let serverCpu = NaN;
  let m0 = machineTicks();
  let machine = NaN;
  const mTimers = [
    setTimeout(
      () => m0 = machineTicks(),
      (a.procs > 1 ? 1000 : 0) + a.warmup * 1000,
    ),
    setTimeout(
      () => machine = machineBusyPct(m0, machineTicks()),
      (a.procs > 1 ? 1000 : 0) + (a.warmup + a.duration) * 1000,
    ),
  ];
  let parts: SessionsPart[];
  if (a.procs > 1) {
    const running = runChildren(a, argv);
    if (a.pid > 0) {
      // the children start about 1 s from now and measure after the warm-up
      await sleep(1000 + a.warmup * 1000);
      const c0 = cpuSeconds(a.pid);
      await sleep(a.duration * 1000);
      serverCpu = cpuSeconds(a.pid) - c0;
    }
    parts = await running;
  } else {
    let c0 = 0;
    const timers = a.pid > 0
      ? [
        setTimeout(() => c0 = cpuSeconds(a.pid), a.warmup * 1000),
        setTimeout(
          () => serverCpu = cpuSeconds(a.pid) - c0,
          (a.warmup + a.duration) * 1000,
        ),
      ]
      : [];
    parts = [await sessionsPart(a, a.clients)];
    timers.forEach(clearTimeout);
  }
  mTimers.forEach(clearTimeout);
  const latencies = parts.flatMap((p) => p.latencies).sort((x, y) => x - y);
  const sum = (f: (p: SessionsPart) => number) =>
    parts.reduce((n, p) => n + f(p), 0);
  const sessions = sum((p) => p.sessions);
  const bytes = sum((p) => p.bytes);
  const driverCpu = sum((p) => p.driver_cpu_s);
  return {
    mode: a.mode,
    tls: a.tls,
    label: a.label,
    host: a.host,
    port: a.port,
    clients: a.clients,
    procs: a.procs,
    duration_s: a.duration,
    sessions,
    sessions_per_s: round(sessions / a.duration, 1),
    messages: sum((p) => p.messages),
    bytes,
    mb_per_s: round(bytes / a.duration / 1e6, 1),
    latency_ms: {
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max: latencies.at(-1) ?? NaN,
    },
    errors: sum((p) => p.errors),
    first_error: parts.find((p) => p.first_error)?.first_error ?? null,
    driver_cpu_s: round(driverCpu, 2),
    driver_cpu_pct: round((100 * driverCpu) / a.duration, 1),
    server_cpu_pct: a.pid > 0 ? round((100 * serverCpu) / a.duration, 1) : null,
    machine_busy_pct: machine,
  };
}

async function runBulk(a: Args) {
  const { conn, r } = await login(a, a.user, a.bufsize);
  await writeAll(conn, STAT);
  await expectOk(r, "STAT");
  if (r.field(1) < 1) throw new Error(`Maildrop of "${a.user}" is empty`);
  // warm-up (page cache, JIT) and the full check of the bytes
  const first = await retr(conn, r, 1);
  const knownWire = a.verify === "all" ? 0 : first.wire;
  const times: number[] = [];
  let octets = 0;
  const bytes0 = r.bytes;
  const cpu0 = cpuSeconds(Deno.pid, false);
  const scpu0 = a.pid > 0 ? cpuSeconds(a.pid) : 0;
  const m0 = machineTicks();
  for (let i = 0; i < a.repeat; i++) {
    const s = performance.now();
    octets = (await retr(conn, r, 1, knownWire)).octets;
    times.push((performance.now() - s) / 1000);
  }
  const wall = times.reduce((x, y) => x + y, 0);
  const driverCpu = cpuSeconds(Deno.pid, false) - cpu0;
  const serverCpu = a.pid > 0 ? cpuSeconds(a.pid) - scpu0 : NaN;
  const machine = machineBusyPct(m0, machineTicks());
  const wire = r.bytes - bytes0;
  await writeAll(conn, QUIT);
  await expectOk(r, "QUIT");
  conn.close();
  return {
    mode: "bulk",
    label: a.label,
    host: a.host,
    port: a.port,
    repeat: a.repeat,
    verify: a.verify,
    octets,
    wire_bytes: wire,
    seconds: round(wall, 3),
    mb_per_s: round(wire / wall / 1e6, 1),
    best_mb_per_s: round(wire / a.repeat / Math.min(...times) / 1e6, 1),
    driver_cpu_pct: round((100 * driverCpu) / wall, 1),
    server_cpu_pct: a.pid > 0 ? round((100 * serverCpu) / wall, 1) : null,
    machine_busy_pct: machine,
  };
}

async function runIdle(a: Args) {
  const before: TreeMemory | null = a.pid > 0 ? treeMemory(a.pid) : null;
  const conns: Deno.Conn[] = [];
  let failed = 0;
  let firstError: string | null = null;
  let next = 0;
  const t0 = performance.now();
  async function opener() {
    while (next < a.conns) {
      const id = next++;
      try {
        if (a.login) {
          conns.push((await login(a, userName(a, id), 512)).conn);
        } else {
          conns.push(await open(a, new ReplyReader(NOTHING, 512)));
        }
      } catch (error) {
        failed++;
        firstError ??= String(error);
      }
    }
  }
  await Promise.all(Array.from({ length: a.openConcurrency }, opener));
  const openS = (performance.now() - t0) / 1000;
  await sleep(a.settle * 1000);
  const after: TreeMemory | null = a.pid > 0 ? treeMemory(a.pid) : null;
  // leave politely so that servers which log aborted sessions stay quiet
  await Promise.all(conns.map(async (c) => {
    try {
      await writeAll(c, QUIT);
      await c.read(new Uint8Array(64));
    } catch { /* closing anyway */ }
    c.close();
  }));
  const n = conns.length;
  const per = (k: keyof TreeMemory) =>
    before && after && n > 0 ? round((after[k] - before[k]) / n, 2) : null;
  return {
    mode: "idle",
    label: a.label,
    host: a.host,
    port: a.port,
    login: a.login,
    conns_target: a.conns,
    conns_open: n,
    failed,
    first_error: firstError,
    open_s: round(openS, 2),
    server_before: before,
    server_after: after,
    kib_per_conn_rss: per("rssKib"),
    kib_per_conn_pss: per("pssKib"),
  };
}

function human(res: Record<string, unknown>): string {
  const tag = `${res.label || `${res.host}:${res.port}`} ${res.mode}`;
  if (res.mode === "digest") {
    return `${tag}: ${res.digest} (${res.bytes} bytes)`;
  }
  if (res.mode === "sessions" || res.mode === "handshakes") {
    const l = res.latency_ms as { p50: number; p99: number };
    return `${tag} ${res.tls}: ${res.sessions_per_s} ${res.mode}/s, ${res.mb_per_s} MB/s, ` +
      `latency p50 ${l.p50} ms p99 ${l.p99} ms, errors ${res.errors}, ` +
      `driver CPU ${res.driver_cpu_pct}%` +
      (res.server_cpu_pct !== null
        ? `, server CPU ${res.server_cpu_pct}%`
        : "") +
      `, machine ${res.machine_busy_pct}% of ${
        navigator.hardwareConcurrency * 100
      }%`;
  }
  if (res.mode === "bulk") {
    return `${tag}: ${res.mb_per_s} MB/s (best ${res.best_mb_per_s}) over ${res.repeat}× ` +
      `${res.octets} octets, driver CPU ${res.driver_cpu_pct}%` +
      (res.server_cpu_pct !== null
        ? `, server CPU ${res.server_cpu_pct}%`
        : "") +
      `, machine ${res.machine_busy_pct}% of ${
        navigator.hardwareConcurrency * 100
      }%`;
  }
  return `${tag}: ${res.conns_open}/${res.conns_target} connections open` +
    (res.login ? " (logged in)" : "") + `, ${res.failed} failed` +
    (res.kib_per_conn_rss !== null
      ? `, server +${res.kib_per_conn_rss} KiB RSS / +${res.kib_per_conn_pss} KiB PSS per connection`
      : "");
}

async function main() {
  const argv = Deno.args;
  const a = parseArgs(argv);
  if (a.child) {
    const part = await sessionsPart(a, a.clients);
    console.log(JSON.stringify(part));
    return;
  }
  let res: Record<string, unknown>;
  if (a.mode === "sessions" || a.mode === "handshakes") {
    res = await runSessions(a, argv);
  } else if (a.mode === "digest") res = await runDigest(a);
  else if (a.mode === "bulk") res = await runBulk(a);
  else res = await runIdle(a);
  console.log(JSON.stringify(res));
  console.error(human(res));
}

if (import.meta.main) await main();
