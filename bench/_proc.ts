/**
 * Linux /proc readers for the benchmark: CPU time and memory of a process
 * and all of its descendants (Dovecot runs as a tree of processes).
 *
 * @module
 */

import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/PID/stat times (`getconf CLK_TCK`). */
const CLK_TCK = 100;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined; // the process is gone
  }
}

/** Fields of /proc/PID/stat after the command name, 0 = state. */
function statFields(pid: number): string[] | undefined {
  const s = readText(`/proc/${pid}/stat`);
  if (s === undefined) return undefined;
  return s.slice(s.lastIndexOf(")") + 2).split(" ");
}

/**
 * Returns `pid` and every live descendant of it.
 *
 * @param pid The root process.
 * @returns Process ids, the root first.
 * @example
 * ```ts
 * processTree(Deno.pid); // [Deno.pid, ...children]
 * ```
 */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    const child = Number(name);
    if (!Number.isInteger(child)) continue;
    const f = statFields(child);
    if (f === undefined) continue;
    const ppid = Number(f[1]);
    let list = children.get(ppid);
    if (list === undefined) children.set(ppid, list = []);
    list.push(child);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * CPU seconds (user + system, plus reaped children's) of a process tree.
 *
 * @param pid The root process.
 * @param tree Include descendants.
 * @returns Seconds of CPU time.
 * @example
 * ```ts
 * cpuSeconds(Deno.pid, false);
 * ```
 */
export function cpuSeconds(pid: number, tree = true): number {
  let ticks = 0;
  for (const p of tree ? processTree(pid) : [pid]) {
    const f = statFields(p);
    if (f === undefined) continue;
    // utime stime cutime cstime are fields 14..17 of stat = index 11..14 here
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / CLK_TCK;
}

/** Memory of a process tree in KiB. */
export interface TreeMemory {
  /** Sum of VmRSS (counts shared pages once per process). */
  rssKib: number;
  /** Sum of Pss (shared pages divided among their users). */
  pssKib: number;
  /** Number of processes. */
  procs: number;
}

function kib(text: string | undefined, key: string): number {
  if (text === undefined) return 0;
  const i = text.indexOf(key + ":");
  if (i === -1) return 0;
  return parseInt(text.slice(i + key.length + 1), 10);
}

/**
 * Sums VmRSS and Pss over a process tree.
 *
 * @param pid The root process.
 * @returns Memory in KiB.
 * @example
 * ```ts
 * treeMemory(Deno.pid).rssKib;
 * ```
 */
export function treeMemory(pid: number): TreeMemory {
  const pids = processTree(pid);
  let rssKib = 0;
  let pssKib = 0;
  for (const p of pids) {
    rssKib += kib(readText(`/proc/${p}/status`), "VmRSS");
    pssKib += kib(readText(`/proc/${p}/smaps_rollup`), "Pss");
  }
  return { rssKib, pssKib, procs: pids.length };
}

/**
 * Busy and total CPU ticks of the whole machine, summed over all cores
 * (/proc/stat); the busy share of a window shows whether the machine, not
 * one process, was the limit.
 *
 * @returns Ticks since boot.
 * @example
 * ```ts
 * const a = machineTicks();
 * // ... run ...
 * const b = machineTicks();
 * const busyCores = (b.busy - a.busy) / ((b.total - a.total) / b.cores);
 * ```
 */
export function machineTicks(): { busy: number; total: number; cores: number } {
  const text = readFileSync("/proc/stat", "utf8");
  const cpu = text.slice(0, text.indexOf("\n")).trim().split(/\s+/).slice(1)
    .map(Number);
  const total = cpu.slice(0, 8).reduce((x, y) => x + y, 0); // without guest time
  const idle = cpu[3] + cpu[4]; // idle + iowait
  const cores = text.split("\n").filter((l) => /^cpu\d/.test(l)).length;
  return { busy: total - idle, total, cores };
}

/**
 * Busy share of the machine between two {@linkcode machineTicks} readings, in
 * percent of one core (a 2-core machine is 200 when fully busy).
 *
 * @param a The earlier reading.
 * @param b The later reading.
 * @returns Percent of one core.
 * @example
 * ```ts
 * machineBusyPct(machineTicks(), machineTicks());
 * ```
 */
export function machineBusyPct(
  a: { busy: number; total: number; cores: number },
  b: { busy: number; total: number; cores: number },
): number {
  const total = b.total - a.total;
  return total > 0
    ? Math.round((1000 * b.cores * (b.busy - a.busy)) / total) / 10
    : NaN;
}
