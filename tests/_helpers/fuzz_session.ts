/**
 * A seeded fuzzer for Pop3Session over in-memory streams, shared by
 * tests/hardening/fuzz_test.ts (a few hundred cases) and bench/fuzz.ts
 * (as many as asked). No dependencies: a small PRNG drives everything, so a
 * failing seed replays exactly.
 */

import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import { concatBytes } from "../../src/_util/concat.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import {
  countingStorage,
  hardeningPair,
  newSession,
  sessionOptions,
} from "./hardening_pair.ts";

/** A deterministic PRNG (mulberry32). */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** One element. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  /** Random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const FUZZ_PASSWORD = "fuzz pass word";

/** Messages in the fuzz maildrop: dot lines, fake status lines, bare LF, empty. */
export const FUZZ_MESSAGES: readonly string[] = [
  "Subject: one\r\n\r\nHello\r\n",
  "Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n+OK fake\r\n-ERR fake\r\n",
  "Subject: bare\n\nline one\nline two\n.\n",
  "",
  "No header/body separator and no final line end",
];

const VERBS = [
  "USER",
  "PASS",
  "APOP",
  "AUTH",
  "STLS",
  "CAPA",
  "QUIT",
  "STAT",
  "LIST",
  "RETR",
  "DELE",
  "NOOP",
  "RSET",
  "TOP",
  "UIDL",
  "UTF8",
  "LANG",
  "XTND",
  "RETRR",
  "",
  "\u00e9T\u00c0T",
];

const ARGS = [
  "1",
  "2",
  "3",
  "4",
  "5",
  "6",
  "0",
  "-1",
  "01",
  "1.5",
  "abc",
  "999999999999999",
  "9999999999999999999999",
  "alice",
  "bob",
  "nobody",
  FUZZ_PASSWORD,
  "0123456789abcdef0123456789abcdef",
  "PLAIN",
  "=",
  "*",
  "\u2603",
  "\u0000",
  "\t",
  "x".repeat(300),
];

function caseVerb(rng: Rng, verb: string): string {
  if (rng.chance(0.7)) return verb;
  return [...verb].map((c) =>
    rng.chance(0.5) ? c.toLowerCase() : c.toUpperCase()
  ).join("");
}

function lineEnd(rng: Rng): string {
  return rng.pick(["\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r\r\n"]);
}

function commandLine(rng: Rng): string {
  const verb = caseVerb(rng, rng.pick(VERBS));
  const n = rng.pick([0, 0, 1, 1, 1, 2, 2, 3]);
  const args: string[] = [];
  for (let i = 0; i < n; i++) args.push(rng.pick(ARGS));
  const sep = rng.pick([" ", " ", " ", "  ", "\t"]);
  let line = [verb, ...args].join(sep);
  if (rng.chance(0.05)) line += " ";
  return line;
}

function validLine(rng: Rng): string {
  const n = () => String(1 + rng.int(FUZZ_MESSAGES.length + 1));
  switch (rng.int(10)) {
    case 0:
      return `RETR ${n()}`;
    case 1:
      return `TOP ${n()} ${rng.int(4)}`;
    case 2:
      return rng.chance(0.5) ? "LIST" : `LIST ${n()}`;
    case 3:
      return rng.chance(0.5) ? "UIDL" : `UIDL ${n()}`;
    case 4:
      return `DELE ${n()}`;
    case 5:
      return "CAPA";
    case 6:
      return "RSET";
    case 7:
      return "STAT";
    case 8:
      return `RETR ${n()}`;
    default:
      return "NOOP";
  }
}

const PLAIN_OK = btoa(`\0alice\0${FUZZ_PASSWORD}`);

function saslExchange(rng: Rng): string {
  const mech = rng.pick([
    "PLAIN",
    "LOGIN",
    "CRAM-MD5",
    "SCRAM-SHA-256",
    "OAUTHBEARER",
    "XOAUTH2",
    "BOGUS",
    "plain",
  ]);
  const initial = rng.pick(["", "", ` ${PLAIN_OK}`, " =", " !!!", " AAAA"]);
  let out = `AUTH ${mech}${initial}\r\n`;
  const responses = rng.int(4);
  for (let i = 0; i < responses; i++) {
    out += rng.pick([
      PLAIN_OK,
      "*",
      "=",
      "",
      "%%%",
      btoa("alice"),
      btoa(FUZZ_PASSWORD),
      "A".repeat(rng.int(300)),
    ]) + "\r\n";
  }
  return out;
}

/** One generated fuzz case. */
export interface FuzzCase {
  seed: number;
  input: Uint8Array;
  chunks: number[];
  /** Write everything, then half-close; or drop the connection after `dropAfter` chunks. */
  dropAfter: number | undefined;
  maxBadCommands: number;
}

/** Generates the case for a seed. */
export function generateCase(seed: number): FuzzCase {
  const rng = new Rng(seed);
  const parts: Uint8Array[] = [];
  const text = (s: string) => parts.push(encoder.encode(s));
  if (rng.chance(0.6)) {
    text(`${caseVerb(rng, "USER")} alice${lineEnd(rng)}`);
    text(`${caseVerb(rng, "PASS")} ${FUZZ_PASSWORD}${lineEnd(rng)}`);
  }
  const lines = rng.int(30);
  for (let i = 0; i < lines; i++) {
    const kind = rng.int(100);
    if (kind < 40) text(validLine(rng) + lineEnd(rng));
    else if (kind < 70) text(commandLine(rng) + lineEnd(rng));
    else if (kind < 80) {
      const b = rng.bytes(rng.int(60));
      parts.push(b, encoder.encode(lineEnd(rng)));
    } else if (kind < 85) {
      text(
        rng.pick(["NOOP", "STAT", "LIST 1", "BOGUS", "USER a"]).concat(
          "\r\n",
        ).repeat(1 + rng.int(2000)),
      );
    } else if (kind < 90) {
      const n = rng.pick([
        254,
        255,
        256,
        257,
        4000,
        16383,
        16384,
        16385,
        70000,
      ]);
      const verb = rng.pick(["USER ", "AUTH ", "NOOP ", ""]);
      text(verb + "A".repeat(Math.max(0, n - verb.length - 2)) + "\r\n");
    } else if (kind < 92) {
      text("\0".repeat(1 + rng.int(10)) + lineEnd(rng));
    } else if (kind < 94) {
      text("\r".repeat(1 + rng.int(300)));
    } else if (kind < 95) {
      text(`${caseVerb(rng, "USER")} bob\r\n${caseVerb(rng, "PASS")} nope\r\n`);
    } else {
      text(saslExchange(rng));
    }
  }
  if (rng.chance(0.5)) text("QUIT\r\n");
  if (rng.chance(0.2)) text(commandLine(rng)); // trailing partial line
  const input = concatBytes(parts);
  const chunks: number[] = [];
  const style = rng.int(4);
  for (let left = input.length; left > 0;) {
    const size = style === 0
      ? 1 + rng.int(8)
      : style === 1
      ? 1 + rng.int(300)
      : style === 2
      ? 1 + rng.int(70000)
      : left;
    const n = Math.min(left, size);
    chunks.push(n);
    left -= n;
  }
  const dropAfter = rng.chance(0.25) ? rng.int(chunks.length + 1) : undefined;
  return {
    seed,
    input,
    chunks,
    dropAfter,
    maxBadCommands: rng.pick([5, 50, 1000]),
  };
}

/** The lines the session will see: the model of LineFramer. */
function modelLines(input: Uint8Array, max: number): (string | null)[] {
  const lines: (string | null)[] = [];
  let start = 0;
  for (;;) {
    const lf = input.indexOf(0x0a, start);
    if (lf === -1) break;
    if (lf - start + 1 > max) lines.push(null);
    else {
      let end = lf;
      if (end > start && input[end - 1] === 0x0d) end--;
      lines.push(decoder.decode(input.subarray(start, end)));
    }
    start = lf + 1;
  }
  return lines;
}

/** Counters over all cases run in this process, to show what the fuzzer reached. */
export const FUZZ_STATS: Record<string, number> = {};

function count(what: string): void {
  FUZZ_STATS[what] = (FUZZ_STATS[what] ?? 0) + 1;
}

const STATUS = /^(\+OK|-ERR)( [^\r\n]*)?$/;

/** Checks the replies against the lines; returns a problem or undefined. */
function validate(
  output: string,
  lines: (string | null)[],
  truncated: boolean,
): string | undefined {
  const replies = output.split("\r\n");
  const tail = replies.pop()!; // after the last CRLF
  if (tail !== "" && !truncated) {
    return `output ends mid-line: ${JSON.stringify(tail.slice(0, 80))}`;
  }
  let r = 0;
  const greeting = replies[r++];
  if (greeting === undefined) return truncated ? undefined : "no greeting";
  if (!/^\+OK /.test(greeting)) return `bad greeting ${greeting}`;
  let sasl = false; // the last reply was a SASL continuation ("+ ...")
  for (let i = 0; r < replies.length; i++) {
    const status = replies[r++];
    const line = lines[i];
    if (/^\+( [^\r\n]*)?$/.test(status)) {
      // A continuation answers AUTH, or a SASL response line: the next
      // line is the client's response, not a command.
      const auth = typeof line === "string" &&
        (line.split(" ")[0] ?? "").toUpperCase() === "AUTH";
      if (!sasl && !auth) return `reply ${r}: continuation outside AUTH`;
      sasl = true;
      count("SASL continuations");
      continue;
    }
    const afterSasl = sasl;
    sasl = false;
    if (!STATUS.test(status)) {
      return `reply ${r}: not a status line: ${
        JSON.stringify(status.slice(0, 80))
      }`;
    }
    if (status.length + 2 > 512) {
      return `reply ${r}: ${status.length + 2} octets`;
    }
    if (line === undefined) {
      // Past the last line: only a closing notice may follow.
      if (!status.startsWith("-ERR")) return `extra reply ${status}`;
      continue;
    }
    count(status.startsWith("+OK") ? "+OK replies" : "-ERR replies");
    if (!status.startsWith("+OK") || line === null || afterSasl) continue;
    const space = line.indexOf(" ");
    const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
    const args = space === -1
      ? []
      : line.slice(space + 1).split(" ").filter((a) => a !== "");
    const multi = verb === "CAPA" || verb === "RETR" || verb === "TOP" ||
      ((verb === "LIST" || verb === "UIDL" || verb === "AUTH" ||
        verb === "LANG") &&
        args.length === 0);
    if (!multi) continue;
    count(`${verb} blocks`);
    const body: string[] = [];
    for (;;) {
      if (r >= replies.length) {
        return truncated ? undefined : `unterminated block for ${verb}`;
      }
      const b = replies[r++];
      if (b === ".") break;
      if (/[\r\n]/.test(b)) return `bare CR or LF in block for ${verb}`;
      if (b.startsWith(".") && b.length === 1) return "unstuffed dot";
      body.push(b.startsWith(".") ? b.slice(1) : b);
    }
    if (verb === "RETR") {
      const n = Number(args[0]);
      const expected = FUZZ_MESSAGES[n - 1].replace(/\r?\n/g, "\r\n");
      const got = body.map((l) => l + "\r\n").join("");
      const want = expected === "" || expected.endsWith("\r\n")
        ? expected
        : expected + "\r\n";
      if (got !== want) return `RETR ${n} returned different bytes`;
    }
  }
  return undefined;
}

/** The outcome of one case. */
export interface FuzzResult {
  seed: number;
  problem: string | undefined;
  bytesIn: number;
  bytesOut: number;
}

function withDeadline<T>(ms: number, p: Promise<T>): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs one case and checks the invariants. */
export async function runCase(c: FuzzCase): Promise<FuzzResult> {
  const auth = new MemoryAuth().addUser("alice", FUZZ_PASSWORD).addUser(
    "bob",
    "bob",
  );
  const memory = new MemoryStorage();
  for (const m of FUZZ_MESSAGES) memory.deliver("alice", m);
  const { storage, calls, locked } = countingStorage(memory);
  const errors: unknown[] = [];
  const options = sessionOptions<string>({
    auth,
    storage,
    maxBadCommands: c.maxBadCommands,
    maxAuthFailures: 3,
    callbackTimeout: 5000,
    onError: (e) => errors.push(e),
  });
  const [client, server] = hardeningPair();
  let runError: unknown;
  const done = newSession(1, server, options).run().catch((e) => {
    runError = e;
  });
  const reader = client.readable.getReader();
  const received: Uint8Array[] = [];
  let bytesOut = 0;
  const reading = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        received.push(value);
        bytesOut += value.length;
      }
    } catch {
      // Closed.
    }
  })();
  const writer = client.writable.getWriter();
  writer.closed.catch(() => {});
  let at = 0;
  let dropped = false;
  for (let i = 0; i < c.chunks.length; i++) {
    if (c.dropAfter === i) {
      dropped = true;
      break;
    }
    try {
      await writer.write(c.input.subarray(at, at + c.chunks[i]));
    } catch {
      break; // The server closed (limit or QUIT).
    }
    at += c.chunks[i];
  }
  if (c.dropAfter !== undefined) {
    dropped = true;
    client.close();
  } else {
    await writer.close().catch(() => {});
  }
  const finished = await withDeadline(10_000, Promise.all([done, reading]));
  const fail = (problem: string): FuzzResult => ({
    seed: c.seed,
    problem,
    bytesIn: at,
    bytesOut,
  });
  if (finished === "timeout") return fail("session did not end within 10 s");
  if (runError !== undefined) {
    return fail(`run() rejected: ${String(runError)}`);
  }
  if (errors.length > 0) return fail(`onError: ${String(errors[0])}`);
  if (locked() !== 0) return fail(`${locked()} locks held at the end`);
  if ((calls.lock ?? 0) > 1) return fail("locked twice");
  const output = decoder.decode(concatBytes(received));
  const lines = modelLines(c.input.subarray(0, at), 16_384);
  const problem = validate(output, lines, dropped);
  if (problem) return fail(problem);
  const quitOk = dropped
    ? lines.some((l) =>
      l !== null && l.split(" ")[0].toUpperCase() === "QUIT" &&
      l.split(" ").every((a, i) => i === 0 || a === "")
    )
    : output.endsWith("\r\n+OK Bye\r\n");
  if (memory.stat("alice") !== FUZZ_MESSAGES.length && !quitOk) {
    return fail("messages deleted without a processed QUIT");
  }
  if ((calls.dele ?? 0) > 1) return fail("dele called more than once");
  return { seed: c.seed, problem: undefined, bytesIn: at, bytesOut };
}
