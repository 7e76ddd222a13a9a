/**
 * Memory per idle logged-in connection of our server on Deno, Bun and
 * Node 24 (issue #17: ≤ 10 KiB). For each runtime and round it starts
 * `bench/_idle_server.ts` (Pop3d, MemoryAuth, MemoryStorage or
 * MaildirStorage), opens logged-in connections (greeting, USER, PASS) up to
 * each count in `--conns`, has the server collect garbage and report its
 * RSS and heap, and prints KiB per connection from the deltas against the
 * empty server; medians over the rounds. "marginal" is the delta between
 * the last two counts over the connections between them (no one-time costs
 * such as compiled code).
 *
 *     deno run -A bench/idle_memory.ts
 *     deno run -A bench/idle_memory.ts --runtimes deno --conns 2000,5000 --rounds 3
 *     deno run -A bench/idle_memory.ts --storage maildir
 *     deno run -A bench/idle_memory.ts --runtimes deno --conns 1000 --rounds 1 --snapshot /tmp/snaps
 *
 * With `--idle-wait S` it then holds the last count's connections idle for
 * S seconds and measures again ("after S s idle"): a runtime's memory
 * reducer gives back, after a while without work, much of what the login
 * burst made its heap grow by, and a server's idle connections stay for
 * minutes, not for the moment after a burst.
 *
 *     deno run -A bench/idle_memory.ts --storage maildir --idle-wait 40
 *
 * `--mode transport` measures the default socket's `Conn`s alone (a read
 * pending on the Web stream, "+OK" per line, no session); `--mode native`
 * the runtime's own socket API (the floor). Their difference to the default
 * `--mode pop3d` is what the session costs.
 *
 * With `--snapshot DIR` (Deno and Node) it also writes V8 heap snapshots
 * with no connection and with the last count, and prints the self size per
 * constructor per connection from their difference.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    runtimes: { type: "string", default: "deno,bun,node" },
    conns: { type: "string", default: "2000,5000" },
    rounds: { type: "string", default: "3" },
    storage: { type: "string", default: "memory" },
    mode: { type: "string", default: "pop3d" },
    node: { type: "string", default: "" },
    snapshot: { type: "string", default: "" },
    json: { type: "boolean", default: false },
    "v8-flags": { type: "string", default: "" },
    "idle-wait": { type: "string", default: "0" },
  },
});

const counts = args.conns.split(",").map(Number).sort((a, b) => a - b);
if (counts.some((n) => !(n > 0))) {
  throw new RangeError(`--conns must list positive counts, got ${args.conns}`);
}
const rounds = Number(args.rounds);
const idleWait = Number(args["idle-wait"]);
if (!(idleWait >= 0)) {
  throw new RangeError(`--idle-wait must be seconds, got ${args["idle-wait"]}`);
}
const server = new URL("./_idle_server.ts", import.meta.url).pathname;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function nodePath(): Promise<string> {
  if (args.node) return args.node;
  const out = await new Deno.Command("npx", {
    args: ["-y", "node@24", "-p", "process.execPath"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return decoder.decode(out.stdout).trim();
}

function command(runtime: string, node: string, extra: string[]): string[] {
  // V8 flags for experiments, e.g. --v8-flags=--max-semi-space-size=1
  const v8 = args["v8-flags"] ? args["v8-flags"].split(",") : [];
  if (runtime === "deno") {
    return [
      Deno.execPath(),
      "run",
      "-A",
      `--v8-flags=${["--expose-gc", ...v8].join(",")}`,
      server,
      ...extra,
    ];
  }
  if (runtime === "bun") return ["bun", server, ...extra];
  if (runtime === "node") {
    return [node, "--expose-gc", ...v8, server, ...extra];
  }
  throw new RangeError(`Unknown runtime "${runtime}"`);
}

/** Lines of a byte stream, one at a time. */
class Lines {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }
  async next(prefix: string): Promise<string> {
    for (;;) {
      const at = this.#buffer.indexOf("\n");
      if (at !== -1) {
        const line = this.#buffer.slice(0, at);
        this.#buffer = this.#buffer.slice(at + 1);
        if (line.startsWith(prefix)) return line.slice(prefix.length);
        console.error(`server: ${line}`);
        continue;
      }
      const { done, value } = await this.#reader.read();
      if (done) throw new Error(`Server exited before "${prefix}"`);
      this.#buffer += decoder.decode(value, { stream: true });
    }
  }
}

/** Reads one reply line; throws unless it is `+OK`. */
async function expectOk(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  let text = "";
  while (!text.includes("\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("Server closed the connection");
    text += decoder.decode(buf.subarray(0, n));
  }
  if (!text.startsWith("+OK")) throw new Error(`Server said: ${text.trim()}`);
}

async function login(port: number, user: number): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buf = new Uint8Array(512);
  try {
    await expectOk(conn, buf);
    await conn.write(encoder.encode(`USER u${user}\r\n`));
    await expectOk(conn, buf);
    await conn.write(encoder.encode("PASS secret\r\n"));
    await expectOk(conn, buf);
  } catch (error) {
    conn.close();
    throw error;
  }
  return conn;
}

interface Mem {
  rss: number;
  heap: number;
  heapTotal: number;
  external: number;
}

interface Round {
  base: Mem;
  at: Map<number, Mem>;
  /** With --idle-wait: after holding the last count idle. */
  rested?: Mem;
}

async function round(
  runtime: string,
  node: string,
  snapDir: string,
): Promise<Round> {
  const extra = ["--users", String(counts.at(-1)), "--mode", args.mode];
  let tmp: string | undefined;
  if (args.storage === "maildir") {
    tmp = await Deno.makeTempDir({ prefix: "idle-maildir-" });
    extra.push("--maildir", tmp);
  }
  const [bin, ...rest] = command(runtime, node, extra);
  const child = new Deno.Command(bin, {
    args: rest,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = new Lines(child.stdout);
  const stdin = child.stdin.getWriter();
  const ask = async (line: string, prefix: string) => {
    await stdin.write(encoder.encode(line + "\n"));
    return await out.next(prefix);
  };
  const conns: Deno.Conn[] = [];
  try {
    const port = Number((await out.next("READY port=")).trim());
    const snapshots = snapDir && runtime !== "bun";
    if (snapshots) {
      await ask(`snap ${join(snapDir, `${runtime}-0.heapsnapshot`)}`, "SNAP ");
    }
    const base: Mem = JSON.parse(await ask("mem", "MEM "));
    const at = new Map<number, Mem>();
    for (const count of counts) {
      let next = conns.length;
      const opener = async () => {
        while (next < count) {
          const id = ++next;
          conns.push(await login(port, id));
        }
      };
      await Promise.all(Array.from({ length: 32 }, opener));
      at.set(count, JSON.parse(await ask("mem", "MEM ")));
    }
    let rested: Mem | undefined;
    if (idleWait > 0) {
      await new Promise((resolve) => setTimeout(resolve, idleWait * 1000));
      rested = JSON.parse(await ask("mem", "MEM "));
    }
    if (snapshots) {
      await ask(
        `snap ${join(snapDir, `${runtime}-${counts.at(-1)}.heapsnapshot`)}`,
        "SNAP ",
      );
    }
    return { base, at, rested };
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // gone
      }
    }
    await stdin.write(encoder.encode("quit\n")).catch(() => {});
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await child.status;
    clearTimeout(timer);
    if (tmp) await Deno.remove(tmp, { recursive: true });
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const kib = (bytes: number) => Math.round((bytes / 1024) * 100) / 100;

/** Self size per constructor of a V8 heap snapshot. */
async function selfSizes(path: string): Promise<Map<string, [number, number]>> {
  const snap = JSON.parse(await Deno.readTextFile(path));
  const meta = snap.snapshot.meta;
  const fields: string[] = meta.node_fields;
  const types: string[] = meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const nodes: number[] = snap.nodes;
  const strings: string[] = snap.strings;
  const sizes = new Map<string, [number, number]>();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    let name = type === "object" || type === "closure" || type === "native"
      ? strings[nodes[i + iName]]
      : `(${type})`;
    if (type === "closure") name = `closure ${name}`;
    if (name.length > 60) name = name.slice(0, 57) + "...";
    const entry = sizes.get(name) ?? [0, 0];
    entry[0] += nodes[i + iSize];
    entry[1] += 1;
    sizes.set(name, entry);
  }
  return sizes;
}

async function snapshotReport(runtime: string, dir: string): Promise<void> {
  const n = counts.at(-1)!;
  const before = await selfSizes(join(dir, `${runtime}-0.heapsnapshot`));
  const after = await selfSizes(join(dir, `${runtime}-${n}.heapsnapshot`));
  const rows: [string, number, number][] = [];
  let total = 0;
  for (const [name, [size, count]] of after) {
    const [size0, count0] = before.get(name) ?? [0, 0];
    const bytes = (size - size0) / n;
    total += bytes;
    if (Math.abs(bytes) >= 16) rows.push([name, bytes, (count - count0) / n]);
  }
  rows.sort((a, b) => b[1] - a[1]);
  console.log(
    `\n${runtime}: heap self size per connection by constructor (${n} connections)`,
  );
  console.log("| bytes | objects | constructor |\n|---:|---:|---|");
  for (const [name, bytes, objects] of rows) {
    console.log(
      `| ${bytes.toFixed(0)} | ${objects.toFixed(2)} | ${
        name.replaceAll("|", "\\|")
      } |`,
    );
  }
  console.log(`| ${total.toFixed(0)} | | total |`);
}

const node = args.runtimes.includes("node") ? await nodePath() : "";
if (args.snapshot) await Deno.mkdir(args.snapshot, { recursive: true });
const results: Record<string, unknown> = {};
for (const runtime of args.runtimes.split(",")) {
  const all: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    all.push(await round(runtime, node, r === 0 ? args.snapshot : ""));
  }
  const row: Record<string, number> = {};
  const parts: string[] = [];
  for (const count of counts) {
    for (const k of ["rss", "heap", "heapTotal", "external"] as const) {
      const per = all.map((x) => (x.at.get(count)![k] - x.base[k]) / count);
      row[`${k}_${count}`] = kib(median(per));
    }
    parts.push(
      `${count}: ${row[`rss_${count}`]} RSS / ${row[`heap_${count}`]} heap (${
        row[`heapTotal_${count}`]
      } heapTotal) / ${row[`external_${count}`]} external`,
    );
  }
  if (counts.length > 1) {
    const [a, b] = counts.slice(-2);
    for (const k of ["rss", "heap"] as const) {
      const per = all.map((x) => (x.at.get(b)![k] - x.at.get(a)![k]) / (b - a));
      row[`${k}_marginal`] = kib(median(per));
    }
    parts.push(
      `marginal ${a}→${b}: ${row.rss_marginal} RSS / ${row.heap_marginal} heap`,
    );
  }
  if (idleWait > 0) {
    const last = counts.at(-1)!;
    for (const k of ["rss", "heap", "heapTotal"] as const) {
      const per = all.map((x) => (x.rested![k] - x.base[k]) / last);
      row[`${k}_rested`] = kib(median(per));
    }
    parts.push(
      `${last} after ${idleWait} s idle: ${row.rss_rested} RSS / ${row.heap_rested} heap (${row.heapTotal_rested} heapTotal)`,
    );
  }
  results[runtime] = row;
  console.log(
    `${runtime} (${args.mode}, ${args.storage}, median of ${rounds}), KiB per idle logged-in connection: ${
      parts.join("; ")
    }`,
  );
  if (args.snapshot && runtime !== "bun") {
    await snapshotReport(runtime, args.snapshot);
  }
}
if (args.json) console.log(JSON.stringify(results));
