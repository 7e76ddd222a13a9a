/**
 * Memory under many large RETRs at once (issue #17): ours with
 * `MaildirStorage` serving the bench's 50 MiB message to N clients at the
 * same time, each reading at a limited rate (a client on a real network),
 * one user and Maildir each (hard links to the one file). Reports the
 * server's RSS before and its peak (`VmHWM`) while the RETRs run, and checks
 * every body (SHA-256) against the message's wire form.
 *
 *     deno run -A bench/concurrent_retr.ts [--clients 20] [--rate-mb 20]
 *       [--runtimes deno,bun,node]
 *
 * Needs the big Maildir that `bench/real_path.ts` leaves in its work
 * directory (run it once, `--parts bulk` is enough).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { type OptionTable, parseArgs } from "./_options.ts";
import {
  checkoutWork,
  freePortBlock,
  node24,
  processServer,
  runtimeCommand,
  serveRealArgs,
} from "./run.ts";

const o = { clients: 20, rateMb: 20, runtimes: ["deno", "bun", "node"] };
const table: OptionTable = {
  values: {
    clients: (v) => o.clients = positive(v, "--clients"),
    rateMb: (v) => o.rateMb = positive(v, "--rate-mb"),
    runtimes: (v) => o.runtimes = v.split(","),
  },
  missing: (arg) => new TypeError(`Option "${arg}" needs a value`),
  unknown: (arg) => new TypeError(`Unknown option "${arg}"`),
};
parseArgs(Deno.args, table);

function positive(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new RangeError(`Option "${name}" must be a positive integer`);
  }
  return n;
}

const REAL = checkoutWork("pop3real");
const bigCur = `${REAL}/ours/mail/big/Maildir/cur`;
let message: string;
try {
  message = [...Deno.readDirSync(bigCur)][0].name;
} catch {
  throw new Error(
    `No big Maildir in ${bigCur}: run bench/real_path.ts --parts bulk first`,
  );
}

/** SHA-256 of the message's wire form: CRLF, leading dots doubled, the end. */
function wireSha(path: string): string {
  const text = new TextDecoder("latin1").decode(Deno.readFileSync(path));
  const wire = text.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..") +
    (text.endsWith("\n") ? "" : "\r\n") + ".\r\n";
  return createHash("sha256").update(wire, "latin1").digest("hex");
}
const expected = wireSha(`${bigCur}/${message}`);

// One user and Maildir per client, each with a hard link to the message.
const work = Deno.makeTempDirSync({ prefix: "pop3d-concurrent-" });
let passwd = "";
for (let i = 1; i <= o.clients; i++) {
  const cur = `${work}/mail/big${i}/Maildir/cur`;
  for (const sub of ["cur", "new", "tmp"]) {
    Deno.mkdirSync(`${work}/mail/big${i}/Maildir/${sub}`, { recursive: true });
  }
  Deno.linkSync(`${bigCur}/${message}`, `${cur}/${message}`);
  passwd += `big${i}:{PLAIN}secret::::::mail=maildir:%u/Maildir\n`;
}
Deno.writeTextFileSync(`${work}/passwd`, passwd);

function memoryKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))![1]);
}

/**
 * One client: logs in, RETRs message 1 at `rate` octets/s, hashes what
 * follows the RETR's status line (the greeting and replies before it differ
 * per connection).
 */
async function retr(port: number, user: string, rate: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(`USER ${user}\r\nPASS secret\r\nRETR 1\r\n`),
  );
  const hash = createHash("sha256");
  const buffer = new Uint8Array(64 * 1024);
  const started = performance.now();
  let got = 0;
  let lines = 0;
  let body = 0;
  let tail = "";
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`${user}: closed before the end`);
    let chunk = buffer.subarray(0, n);
    got += n;
    while (lines < 4 && chunk.length > 0) {
      // Greeting, USER, PASS and RETR status lines: not hashed.
      const lf = chunk.indexOf(0x0a);
      if (lf === -1) {
        chunk = chunk.subarray(chunk.length);
        break;
      }
      lines++;
      chunk = chunk.subarray(lf + 1);
    }
    hash.update(chunk);
    body += chunk.length;
    tail = (tail +
      new TextDecoder("latin1").decode(buffer.subarray(Math.max(0, n - 5), n)))
      .slice(-5);
    if (tail === "\r\n.\r\n") break;
    const ahead = got / rate * 1000 - (performance.now() - started);
    if (ahead > 1) await new Promise((r) => setTimeout(r, ahead));
  }
  conn.close();
  return `${hash.digest("hex")} ${body}`;
}

const rows: string[] = [];
const node = o.runtimes.includes("node") ? await node24() : "";
const port = freePortBlock(24600, 4);
for (const rt of o.runtimes) {
  const cmd = runtimeCommand(
    rt,
    node,
    serveRealArgs(
      "maildir",
      `${work}/mail`,
      `${work}/passwd`,
      `${REAL}/tls`,
      port,
    ),
    { deno: ["--v8-flags=--expose-gc"], node: ["--expose-gc"] },
  );
  const server = processServer(`ours-${rt}`, port, cmd);
  await server.start();
  try {
    const before = memoryKb(server.pid, "VmRSS");
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from(
        { length: o.clients },
        (_, i) => retr(port, `big${i + 1}`, o.rateMb * 1e6),
      ),
    );
    const seconds = (performance.now() - t0) / 1000;
    const peak = memoryKb(server.pid, "VmHWM");
    const right = results.every((r) => r.startsWith(`${expected} `));
    rows.push(
      `| ${rt} | ${o.clients} | ${(before / 1024).toFixed(0)} | ${
        (peak / 1024).toFixed(0)
      } | ${((peak - before) / 1024 / o.clients).toFixed(1)} | ${
        seconds.toFixed(1)
      } | ${right ? "yes" : "NO"} |`,
    );
    if (!right) {
      console.error(`${rt}: ${[...new Set(results)]}, not ${expected}`);
    }
  } finally {
    await server.stop();
  }
}
Deno.removeSync(work, { recursive: true });
console.log(
  `${o.clients} clients at once, each RETR of the 50 MiB message at ${o.rateMb} MB/s\n`,
);
console.log(
  "| runtime | clients | RSS before, MiB | peak RSS, MiB | MiB per RETR | seconds | every body right |",
);
console.log("|---|---|---|---|---|---|---|");
for (const row of rows) console.log(row);
