/**
 * Summarizes a V8 `.cpuprofile` (from `deno run --cpu-prof` or
 * `node --cpu-prof`): the top functions by self time, and self time per
 * source file, in percent of all samples (idle and GC included, so the
 * event loop's idle share shows).
 *
 *     deno run -A bench/cpuprofile_top.ts FILE.cpuprofile [--top 25] [--busiest 4]
 *
 * `--busiest S` keeps only the S-second window with the least idle time (the
 * load, without start-up and the wait for the driver); 0 keeps everything.
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** One row of the summary. */
export interface SelfTime {
  /** Function name and where it is. */
  what: string;
  /** Self time in ms. */
  ms: number;
  /** Share of all sampled time, percent. */
  pct: number;
}

function shortUrl(url: string): string {
  if (url === "") return "";
  const i = url.indexOf("/src/");
  if (i !== -1) return url.slice(i + 1);
  const b = url.indexOf("/bench/");
  if (b !== -1) return url.slice(b + 1);
  return url.replace(/^file:\/\//, "").replace(/^.*\/(ext|node)\//, "$1:");
}

/**
 * The window of `ms` milliseconds with the least `(idle)` time.
 *
 * @param p The parsed profile.
 * @param ms Window length.
 * @returns Start and end, in ms from the first sample.
 * @example
 * ```ts ignore
 * const [from, to] = busiestWindow(profile, 4000);
 * ```
 */
export function busiestWindow(p: Profile, ms: number): [number, number] {
  const idle = new Set(
    p.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) =>
      n.id
    ),
  );
  const t: number[] = [];
  const busy: number[] = [];
  let now = 0;
  for (let i = 0; i < p.samples.length; i++) {
    now += (p.timeDeltas[i] ?? 0) / 1000;
    t.push(now);
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    busy.push(idle.has(p.samples[i]) ? 0 : dt);
  }
  let best = -1;
  let bestFrom = 0;
  let sum = 0;
  let j = 0;
  for (let i = 0; i < t.length; i++) {
    sum += busy[i];
    while (t[i] - t[j] > ms) sum -= busy[j++];
    if (sum > best) {
      best = sum;
      bestFrom = t[j];
    }
  }
  return [bestFrom, bestFrom + ms];
}

/**
 * Self time per function and per file.
 *
 * @param p The parsed profile.
 * @param fromMs Leave out samples before this time (ms from the first).
 * @param toMs Leave out samples after this time.
 * @returns Functions and files, largest first, and the total ms.
 * @example
 * ```ts ignore
 * const p = JSON.parse(Deno.readTextFileSync("x.cpuprofile"));
 * console.log(selfTimes(p, 0, Infinity).functions.slice(0, 10));
 * ```
 */
export function selfTimes(
  p: Profile,
  fromMs: number,
  toMs = Infinity,
): { functions: SelfTime[]; files: SelfTime[]; totalMs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let t = 0;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i] ?? 0) / 1000; // µs -> ms
    t += dt;
    if (t < fromMs || t > toMs) continue;
    // a sample's time is the delta to the next sample
    const next = (p.timeDeltas[i + 1] ?? 0) / 1000;
    const node = byId.get(p.samples[i]);
    if (!node) continue;
    const cf = node.callFrame;
    const where = shortUrl(cf.url);
    const key = `${cf.functionName || "(anonymous)"}${
      where ? ` ${where}:${cf.lineNumber + 1}` : ""
    }`;
    fn.set(key, (fn.get(key) ?? 0) + next);
    const fkey = where || cf.functionName || "(native)";
    file.set(fkey, (file.get(fkey) ?? 0) + next);
    total += next;
  }
  const rows = (m: Map<string, number>) =>
    [...m].map(([what, ms]) => ({ what, ms, pct: (100 * ms) / total }))
      .sort((a, b) => b.ms - a.ms);
  return { functions: rows(fn), files: rows(file), totalMs: total };
}

/** Rough buckets for the self time of a function (first match wins). */
const CATEGORIES: Array<[string, RegExp]> = [
  ["idle (event loop waiting)", /^\(idle\)/],
  ["garbage collector", /^\(garbage collector\)/],
  [
    "file system (ops and node:fs glue)",
    /op_(node_)?fs|op_node_open|deno_fs|internal\/fs|\/_fs\/|node_fs\.ts|stat_utils|fs\/promises/,
  ],
  ["Web Streams", /streams/],
  [
    "socket I/O and TLS",
    /op_write|op_read|op_net|op_tls|_tls|tls_wrap|net\.ts|transport\//,
  ],
  ["timers", /timers/],
  ["promise and op dispatch", /00_infra|01_core|setPromise|async_op/],
  ["our code (src/)", / src\//],
  ["other", /./],
];

/**
 * Self time summed per category (file system, streams, sockets, GC, idle,
 * our code, other).
 *
 * @param functions The output of {@linkcode selfTimes}.
 * @returns Categories, largest first.
 * @example
 * ```ts ignore
 * byCategory(selfTimes(profile, 0).functions);
 * ```
 */
export function byCategory(functions: SelfTime[]): SelfTime[] {
  const sums = new Map<string, SelfTime>();
  for (const f of functions) {
    const [name] = CATEGORIES.find(([, re]) => re.test(f.what))!;
    const row = sums.get(name) ?? { what: name, ms: 0, pct: 0 };
    row.ms += f.ms;
    row.pct += f.pct;
    sums.set(name, row);
  }
  return [...sums.values()].sort((a, b) => b.ms - a.ms);
}

if (import.meta.main) {
  const args = [...Deno.args];
  const opt = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    if (i === -1) return fallback;
    const v = Number(args[i + 1]);
    args.splice(i, 2);
    if (!Number.isFinite(v) || v < 0) {
      throw new RangeError(`Option "--${name}" needs a non-negative number`);
    }
    return v;
  };
  const top = opt("top", 25);
  const busiest = opt("busiest", 4);
  if (args.length !== 1) {
    throw new TypeError(
      "usage: cpuprofile_top.ts FILE.cpuprofile [--top N] [--busiest S]",
    );
  }
  const profile = JSON.parse(Deno.readTextFileSync(args[0])) as Profile;
  const [from, to] = busiest > 0
    ? busiestWindow(profile, busiest * 1000)
    : [0, Infinity];
  const { functions, files, totalMs } = selfTimes(profile, from, to);
  console.log(
    `sampled: ${totalMs.toFixed(0)} ms` +
      (busiest > 0
        ? ` (the busiest ${busiest} s, from ${(from / 1000).toFixed(1)} s)`
        : "") +
      "\n",
  );
  console.log("| self % | self ms | function |\n|---|---|---|");
  for (const r of functions.slice(0, top)) {
    console.log(`| ${r.pct.toFixed(1)} | ${r.ms.toFixed(0)} | ${r.what} |`);
  }
  console.log("\n| self % | category |\n|---|---|");
  for (const r of byCategory(functions)) {
    console.log(`| ${r.pct.toFixed(1)} | ${r.what} |`);
  }
  console.log("\n| self % | file |\n|---|---|");
  for (const r of files.slice(0, 15)) {
    console.log(`| ${r.pct.toFixed(1)} | ${r.what} |`);
  }
}
