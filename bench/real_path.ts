/**
 * The real-path benchmark (issue #17): ours with {memory, Maildir,
 * PostgreSQL} storage × {plain, STLS, implicit TLS} × {Deno, Bun, Node 24}
 * against Dovecot {plain, STLS, POP3S} serving its own copy of the same
 * Maildirs, plus the trivial limit server (plain). Same work for every row:
 *
 * - sessions: 16 clients loop connect (+ STLS / TLS handshake), USER, PASS,
 *   STAT, LIST, RETR ×10 of 10,420 octets, QUIT;
 * - bulk: RETR of one 53,106,807-octet message, N times on one connection;
 * - handshakes: connect, TLS handshake, greeting, QUIT (TLS rows);
 * - idle: memory per idle logged-in connection (plain, on a freshly
 *   started server warmed by 1 s of sessions).
 *
 * The RETR bodies of every row are checked to be identical (SHA-256) before
 * measuring; ratios are medians of per-round ratios to Dovecot in the same
 * TLS mode. Writes `bench/results/real-<time>.json`, a markdown table on
 * stdout and `bench/results/real-<time>.svg` (ratio to Dovecot per runtime
 * and mode).
 *
 *     deno run -A bench/real_path.ts [--quick] [--rounds 3] [--duration 5]
 *       [--storages memory,maildir,postgres] [--modes plain,stls,tls]
 *       [--runtimes deno,bun,node] [--parts sessions,bulk,handshakes,idle]
 *       [--only SUBSTRING,...] [--idle 1000] [--nusers 1000] [--procs 2]
 *       [--cpu-prof DIR] [--instances N] [--program WORKERS]
 *       [--program-args "--worker-young-generation 0"] [--tls-groups LIST|runtime]
 *     deno run -A bench/real_path.ts --report bench/results/real-<time>.json
 *
 * `--instances N` runs each of our rows as N processes sharing its ports
 * (`reusePort`, through `bench/_instances.ts`), for a machine's cores; their
 * CPU and memory are counted as one process tree, as Dovecot's are.
 *
 * `--program WORKERS` runs our Maildir and PostgreSQL rows as the `pop3d`
 * program (cli.ts, what an administrator runs: its JSON log to a file in
 * the work directory, its defaults but for the limits a benchmark would
 * hit) with `--workers WORKERS` threads; memory rows are skipped (the
 * program has no memory storage). `--program-args` adds settings to its
 * command line (split at spaces), for an A/B of one setting.
 *
 * `--tls-groups LIST` sets the TLS key exchange groups of our rows on Node
 * and Bun (default: those Dovecot's OpenSSL 3.0 offers, X25519 first, so
 * that both do the same key exchange); `--tls-groups runtime` leaves the
 * runtime's own (post-quantum X25519MLKEM768 first).
 *
 * `--cpu-prof DIR` runs ours on Deno and Node with `--cpu-prof` (profiles in
 * `DIR/<runtime>-<storage>/`, written when the server stops); summarize one
 * with `bench/cpuprofile_top.ts`. `--report FILE` prints the tables of a
 * saved run again and rewrites its SVG, measuring nothing.
 *
 * Needs Dovecot, the peer scripts in `../shared/peers/dovecot`, openssl,
 * bun, Node 24 through `npx -y node@24`, and for the PostgreSQL rows
 * `scripts/pg_start.sh`. Run as root (Dovecot's mail user reads the copy).
 *
 * @module
 */

import { loadPostgres, STORAGE_KINDS, type StorageKind } from "./_backends.ts";
import { barChart, type Panel } from "./_svg.ts";
import { type OptionTable, parseArgs } from "./_options.ts";
import {
  checkoutWork,
  fmt,
  freePortBlock,
  median,
  node24,
  processServer,
  ratio,
  run,
  runtimeCommand,
  type Server,
  serveRealArgs,
  startPeerDovecot,
  WARM_UP_ARGS,
} from "./run.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

type Mode = "plain" | "stls" | "tls";
type Runtime = "deno" | "bun" | "node";
type Part = "sessions" | "bulk" | "handshakes" | "idle";
const MODES: Mode[] = ["plain", "stls", "tls"];
const RUNTIMES: Runtime[] = ["deno", "bun", "node"];
const PARTS: Part[] = ["sessions", "bulk", "handshakes", "idle"];
const MODE_LABEL: Record<Mode, string> = {
  plain: "plain",
  stls: "STLS",
  tls: "TLS",
};
const RUNTIME_LABEL: Record<Runtime, string> = {
  deno: "Deno",
  bun: "Bun",
  node: "Node 24",
};

export interface Options {
  quick: boolean;
  rounds: number;
  duration: number;
  warmup: number;
  repeat: number;
  clients: number;
  procs: number;
  idle: number;
  nusers: number;
  storages: StorageKind[];
  modes: Mode[];
  runtimes: Runtime[];
  parts: Part[];
  only: string[];
  basePort: number;
  peer: string;
  work: string;
  out: string;
  cpuProf: string;
  instances: number;
  program: number;
  programArgs: string;
  tlsGroups: string;
}

/**
 * The key exchange groups Dovecot's OpenSSL 3.0 offers (X448 aside, which
 * Bun's TLS lacks): ours on Node and Bun get them, so that both servers do
 * the same key exchange with the driver's client. Node 24's and Bun's own
 * lists put the post-quantum X25519MLKEM768 first and ask the driver (rustls,
 * which lists it but sends an X25519 share) for a second share: one more
 * round trip and a hybrid exchange Dovecot does not do. Deno's TLS takes
 * the X25519 share and cannot be told groups.
 */
const PEER_GROUPS = "X25519:P-256:P-384:P-521";

/** The `--tls-groups` of our rows on `runtime`, or none. */
function groupsFor(o: Options, runtime: Runtime): string | undefined {
  return runtime === "deno" || o.tlsGroups === "runtime"
    ? undefined
    : o.tlsGroups;
}

/** The program's command line for a `--program` row. */
function programArgs(
  o: Options,
  storage: StorageKind,
  runtime: Runtime,
  at: {
    mail: string;
    passwd: string;
    pgUrl: string;
    tlsDir: string;
    port: number;
  },
): string[] {
  return [
    "cli.ts",
    ...(storage === "postgres"
      ? ["--postgres", at.pgUrl]
      : ["--maildir", at.mail, "--passwd", at.passwd]),
    "--hostname",
    "127.0.0.1",
    "--port",
    String(at.port),
    "--tls-port",
    String(at.port + 1),
    "--tls-cert",
    `${at.tlsDir}/cert.pem`,
    "--tls-key",
    `${at.tlsDir}/key.pem`,
    "--plaintext-auth",
    "always",
    "--max-connections",
    "100000",
    "--max-connections-per-address",
    "100000",
    "--log-format",
    "json",
    "--workers",
    String(o.program),
    ...(groupsFor(o, runtime) ? ["--tls-groups", groupsFor(o, runtime)!] : []),
    ...o.programArgs.split(" ").filter((arg) => arg !== ""),
  ];
}

/**
 * The server's CPU time per session (or handshake) of one driver result, in
 * ms: its CPU share of the window over the rate; NaN without both.
 *
 * @example
 * ```ts ignore
 * serverCpuMsPerSession({ server_cpu_pct: 130, sessions_per_s: 800 }); // 1.625
 * ```
 */
export function serverCpuMsPerSession(result: Record<string, unknown>): number {
  const pct = result.server_cpu_pct;
  const rate = result.sessions_per_s;
  if (typeof pct !== "number" || typeof rate !== "number" || !(rate > 0)) {
    return NaN;
  }
  return (pct * 10) / rate;
}

export function parseOptions(argv: string[]): Options {
  const o: Options = {
    quick: false,
    rounds: 3,
    duration: 5,
    warmup: 1,
    repeat: 5,
    clients: 16,
    procs: 2,
    idle: 1000,
    nusers: 1000,
    storages: [...STORAGE_KINDS],
    modes: [...MODES],
    runtimes: [...RUNTIMES],
    parts: [...PARTS],
    only: [],
    basePort: 0,
    peer: `${ROOT}../shared/peers/dovecot`,
    work: checkoutWork("pop3real"),
    out: `${HERE}results`,
    cpuProf: "",
    instances: 1,
    program: 0,
    programArgs: "",
    tlsGroups: PEER_GROUPS,
  };
  if (argv.includes("--quick")) {
    Object.assign(o, {
      quick: true,
      rounds: 1,
      duration: 2,
      warmup: 0.5,
      repeat: 2,
      idle: 200,
      nusers: 200,
    });
  }
  const lists: Record<string, readonly string[]> = {
    storages: STORAGE_KINDS,
    modes: MODES,
    runtimes: RUNTIMES,
    parts: PARTS,
  };
  const rec = o as unknown as Record<string, unknown>;
  const values: OptionTable["values"] = {};
  for (const key of Object.keys(o)) {
    if (key in lists || key === "only") {
      values[key] = (value) => {
        const items = value.split(",").filter((x) => x !== "");
        for (const item of items) {
          if (key in lists && !lists[key].includes(item)) {
            throw new TypeError(
              `Option "--${key}" takes ${lists[key].join(", ")}; got "${item}"`,
            );
          }
        }
        rec[key] = items;
      };
    } else if (typeof rec[key] === "number") {
      values[key] = (value, arg) => {
        const n = Number(value);
        if (!Number.isFinite(n) || n < 0) {
          throw new RangeError(`Option "${arg}" needs a number`);
        }
        rec[key] = n;
      };
    } else if (typeof rec[key] === "string") {
      values[key] = (value) => rec[key] = value;
    }
  }
  const bad = (arg: string) => new TypeError(`Bad option "${arg}"`);
  parseArgs(argv, {
    flags: { quick() {} }, // applied above, before the options that follow
    values,
    missing: bad,
    unknown: bad,
  });
  if (o.idle > o.nusers) {
    throw new RangeError(
      `Option "--idle" (${o.idle}) must not exceed "--nusers" (${o.nusers}): ` +
        "each idle session locks its own maildrop",
    );
  }
  return o;
}

// ---------------------------------------------------------------------------
// set-up

async function sh(script: string): Promise<string> {
  return await run("bash", ["-c", script]);
}

/** A CA and an RSA-2048 leaf for 127.0.0.1 (Deno refuses a self-signed CA leaf). */
export async function certificates(dir: string): Promise<void> {
  Deno.mkdirSync(dir, { recursive: true });
  await sh(`set -e; cd '${dir}'; [ -s cert.pem ] && exit 0
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=pop3bench-ca \
  -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
  -keyout key.pem -out leaf.csr 2>/dev/null
printf 'basicConstraints=CA:FALSE\\nsubjectAltName=DNS:localhost,IP:127.0.0.1\\nkeyUsage=digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\n' >leaf.ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -days 3650 -extfile leaf.ext -out cert.pem 2>/dev/null
chmod 644 key.pem`);
}

interface Proc extends Server {
  tlsPort: number;
}

function dovecotServer(o: Options, port: number, tlsDir: string): Proc {
  const dir = `${o.work}/dovecot`;
  let started = false;
  const s: Proc = {
    name: "dovecot",
    port,
    tlsPort: port + 1,
    pid: 0,
    async start() {
      await run(`${o.peer}/stop.sh`, [dir]).catch(() => {});
      Deno.mkdirSync(`${dir}/tls`, { recursive: true });
      Deno.copyFileSync(`${tlsDir}/cert.pem`, `${dir}/tls/cert.pem`);
      Deno.copyFileSync(`${tlsDir}/key.pem`, `${dir}/tls/key.pem`);
      s.pid = await startPeerDovecot(
        o.peer,
        dir,
        port,
        `${o.work}/dovecot.start.log`,
        {
          NUSERS: String(o.nusers),
          BIG_MB: "50",
          LOGIN_MODE: "perf",
          POP3_SERVICE_COUNT: "0",
          POP3_CLIENT_LIMIT: "100",
          NO_FLAG_UPDATES: "yes",
          ...(started ? { KEEP_MAIL: "1" } : {}),
        },
      );
      started = true;
    },
    async stop() {
      await run(`${o.peer}/stop.sh`, [dir]);
    },
  };
  return s;
}

/** Our copy of Dovecot's Maildirs and a passwd-file with `{PLAIN}` passwords. */
async function copyMail(o: Options): Promise<{ mail: string; passwd: string }> {
  const ours = `${o.work}/ours`;
  await sh(`set -e; rm -rf '${ours}'; mkdir -p '${ours}'
cp -a '${o.work}/dovecot/mail' '${ours}/mail'
find '${ours}/mail' -name 'dovecot.index*' -delete -o -name 'dovecot.list.index*' -delete`);
  const users = ["alice", "big"];
  for (let i = 1; i <= o.nusers; i++) users.push(`alice${i}`);
  const passwd = `${ours}/passwd`;
  Deno.writeTextFileSync(
    passwd,
    users.map((u) => `${u}:{PLAIN}secret::::::mail=maildir:%u/Maildir\n`)
      .join(""),
  );
  return { mail: `${ours}/mail`, passwd };
}

async function startPostgres(): Promise<{ url: string; data: string }> {
  const text = await run("bash", [`${ROOT}scripts/pg_start.sh`]);
  const url = text.match(/POP3D_PG_URL='([^']*)'/)?.[1];
  const data = text.match(/POP3D_PG_DATA='([^']*)'/)?.[1];
  if (!url || !data) throw new Error(`pg_start.sh printed no URL: ${text}`);
  return { url, data };
}

// ---------------------------------------------------------------------------
// rows

interface Row {
  name: string;
  server: Proc;
  kind: "dovecot" | "trivial" | "ours";
  mode: Mode;
  storage?: StorageKind;
  runtime?: Runtime;
}

type Result = Record<string, unknown>;

const DRIVER_TLS: Record<Mode, string> = {
  plain: "none",
  stls: "stls",
  tls: "implicit",
};

async function drive(
  row: Row,
  ca: string,
  args: string[],
  mode: Mode = row.mode,
): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${HERE}driver.ts`,
      "--port",
      String(mode === "tls" ? row.server.tlsPort : row.server.port),
      "--pid",
      String(row.server.pid),
      "--label",
      row.name,
      "--tls",
      DRIVER_TLS[mode],
      "--ca",
      ca,
      ...args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || text === "") {
    return { error: `driver failed (${out.code})` };
  }
  return JSON.parse(text);
}

// ---------------------------------------------------------------------------

/** Prints the table and rewrites the SVG of a saved run (`--report FILE`). */
function reportOnly(file: string): void {
  const saved = JSON.parse(Deno.readTextFileSync(file));
  const rows = (saved.rows as Array<Row & { server: string }>).map((r) => ({
    ...r,
    server: { name: r.server } as unknown as Proc,
  }));
  const report = summarize(saved.options, rows, saved.results);
  const svg = file.replace(/\.json$/, "") + ".svg";
  Deno.writeTextFileSync(svg, chart(saved.options, report, saved.machine));
  console.log(report.markdown);
  if (saved.skipped?.length > 0) {
    console.log(`\nLeft out: ${saved.skipped.join("; ")}`);
  }
  console.log(`\nChart: ${svg}`);
}

async function main() {
  const at = Deno.args.indexOf("--report");
  if (at !== -1) return reportOnly(Deno.args[at + 1]);
  const o = parseOptions(Deno.args);
  Deno.mkdirSync(o.work, { recursive: true });
  Deno.mkdirSync(o.out, { recursive: true });
  const tlsDir = `${o.work}/tls`;
  await certificates(tlsDir);
  const ca = `${tlsDir}/ca.pem`;
  // 0: the first free block from 23400 (another checkout may run one too).
  const p = o.basePort || freePortBlock(23400, 40);

  const dovecot = dovecotServer(o, p, tlsDir);
  const mailSrc = `${o.work}/dovecot/mail`;
  const trivialProc: Proc = Object.assign(
    processServer("trivial", p + 2, [
      Deno.execPath(),
      "run",
      "-A",
      `${HERE}trivial_server.ts`,
      "--port",
      String(p + 2),
      "--maildir",
      `${mailSrc}/alice/Maildir`,
      "--big-maildir",
      `${mailSrc}/big/Maildir`,
    ]),
    { tlsPort: 0 },
  );

  const git = await run("git", ["-C", ROOT, "log", "-1", "--format=%h %s"])
    .catch(() => "");
  const machine = {
    cpus: navigator.hardwareConcurrency,
    kernel: Deno.osRelease(),
    loadavg: Deno.loadavg(),
    deno: Deno.version.deno,
    bun: (await run("bun", ["--version"])).trim(),
    node: (await run(await node24(), ["--version"])).trim(),
    dovecot: (await run("dovecot", ["--version"])).trim(),
    commit: git.trim(),
  };
  console.error(`machine: ${JSON.stringify(machine)}`);

  const procs: Proc[] = [];
  let pg: { url: string; data: string } | undefined;
  const skipped: string[] = [];
  const results: Record<string, Result[]> = {};
  const record = (key: string, r: Result) => (results[key] ??= []).push(r);
  const rows: Row[] = [];
  try {
    await dovecot.start();
    procs.push(dovecot);
    for (const mode of o.modes) {
      rows.push({
        name: `dovecot-${mode}`,
        server: dovecot,
        kind: "dovecot",
        mode,
      });
    }
    if (o.modes.includes("plain") && wanted(o, "trivial-plain")) {
      try {
        await trivialProc.start();
        procs.push(trivialProc);
        rows.push({
          name: "trivial-plain",
          server: trivialProc,
          kind: "trivial",
          mode: "plain",
        });
      } catch (error) {
        skipped.push(`trivial (${String(error).split("\n")[0]})`);
      }
    }
    const { mail, passwd } = await copyMail(o);
    const node = await node24();
    let port = p + 10;
    for (const storage of o.storages) {
      const names = o.runtimes.flatMap((rt) =>
        o.modes.map((m) => `ours-${rt}-${storage}-${m}`)
      );
      if (!names.some((n) => wanted(o, n))) continue;
      let pgUrl = "";
      if (storage === "postgres") {
        try {
          pg = await startPostgres();
          console.error("loading PostgreSQL ...");
          await loadPostgres(pg.url, mailSrc, o.nusers);
          pgUrl = pg.url;
        } catch (error) {
          skipped.push(`postgres (${String(error).split("\n")[0]})`);
          continue;
        }
      }
      if (o.program > 0 && storage === "memory") {
        skipped.push("memory (the program has no memory storage)");
        continue;
      }
      for (const rt of o.runtimes) {
        const ours = o.modes.map((m) => `ours-${rt}-${storage}-${m}`)
          .filter((n) => wanted(o, n));
        if (ours.length === 0) continue;
        const args = o.program > 0
          ? programArgs(o, storage, rt, {
            mail,
            passwd,
            pgUrl,
            tlsDir,
            port,
          })
          : serveRealArgs(
            storage,
            storage === "memory" ? mailSrc : mail,
            passwd,
            tlsDir,
            port,
            [
              "--users",
              String(o.nusers),
              "--pg-url",
              pgUrl,
              "--tls-port",
              String(port + 1),
              ...(groupsFor(o, rt) ? ["--groups", groupsFor(o, rt)!] : []),
            ],
          );
        const prof = o.cpuProf
          ? [`--cpu-prof`, `--cpu-prof-dir=${o.cpuProf}/${rt}-${storage}`]
          : [];
        const single = runtimeCommand(rt, node, args, {
          deno: [
            "--v8-flags=--expose-gc",
            // As README says for the program on shared ports.
            ...(o.program > 1 ? ["--unstable-net"] : []),
            ...prof,
          ],
          node: ["--expose-gc", ...prof],
        });
        const cmd = o.program > 0
          ? [
            Deno.execPath(),
            "run",
            "-A",
            `${HERE}_program.ts`,
            "--log",
            `${o.work}/ours-${rt}-${storage}.log`,
            "--port",
            String(port),
            "--",
            ...single,
          ]
          : o.instances > 1
          ? [
            Deno.execPath(),
            "run",
            "-A",
            `${HERE}_instances.ts`,
            String(o.instances),
            "--",
            ...single,
          ]
          : single;
        const server: Proc = Object.assign(
          processServer(`ours-${rt}-${storage}`, port, cmd),
          { tlsPort: port + 1 },
        );
        port += 2;
        try {
          await server.start();
          procs.push(server);
          for (const m of o.modes) {
            const name = `ours-${rt}-${storage}-${m}`;
            if (!wanted(o, name)) continue;
            rows.push({
              name,
              server,
              kind: "ours",
              mode: m,
              storage,
              runtime: rt,
            });
          }
        } catch (error) {
          skipped.push(`${server.name} (${String(error).split("\n")[0]})`);
          await server.stop().catch(() => {});
        }
      }
    }

    // identical bytes, per row (and so per TLS mode)
    const digests: Record<string, string> = {};
    for (const row of [...rows]) {
      const r = await drive(row, ca, ["--mode", "digest", "--user", "alice"]);
      digests[row.name] = String(r.digest ?? r.error);
    }
    console.error(`body digests: ${JSON.stringify(digests)}`);
    const reference = digests[rows[0].name];
    if (!/^[0-9a-f]{16}$/.test(reference)) {
      throw new Error(`Dovecot's digest failed: ${reference}`);
    }
    for (const row of [...rows]) {
      if (digests[row.name] !== reference) {
        skipped.push(`${row.name} (bodies differ: ${digests[row.name]})`);
        rows.splice(rows.indexOf(row), 1);
      }
    }

    const dur = [
      "--duration",
      String(o.duration),
      "--warmup",
      String(o.warmup),
    ];
    for (let round = 1; round <= o.rounds; round++) {
      if (o.parts.includes("sessions")) {
        console.error(`--- round ${round}/${o.rounds}: sessions`);
        for (const row of rows) {
          record(
            `sessions:${row.name}`,
            await drive(row, ca, [
              "--mode",
              "sessions",
              "--clients",
              String(o.clients),
              "--users",
              "16",
              "--procs",
              String(o.procs),
              ...dur,
            ]),
          );
        }
      }
      if (o.parts.includes("bulk")) {
        console.error(`--- round ${round}/${o.rounds}: bulk`);
        for (const row of rows) {
          record(
            `bulk:${row.name}`,
            await drive(row, ca, [
              "--mode",
              "bulk",
              "--user",
              "big",
              "--repeat",
              String(o.repeat),
            ]),
          );
        }
      }
      if (o.parts.includes("handshakes")) {
        console.error(`--- round ${round}/${o.rounds}: handshakes`);
        for (const row of rows) {
          if (row.mode === "plain" && row.kind !== "dovecot") continue;
          record(
            `handshakes:${row.name}`,
            await drive(row, ca, [
              "--mode",
              "handshakes",
              "--clients",
              String(o.clients),
              "--procs",
              String(o.procs),
              ...dur,
            ]),
          );
        }
      }
    }

    if (o.parts.includes("idle")) {
      console.error(`--- idle: ${o.idle} logged-in connections, plain`);
      for (const server of procs) {
        const row = rows.find((r) =>
          r.server === server && r.mode === "plain"
        ) ??
          rows.find((r) => r.server === server);
        if (!row || row.kind === "trivial") continue;
        await server.stop();
        await server.start();
        // a few sessions first: thread pools, JIT and caches are part of
        // the server, not of the idle connections measured next
        await drive(row, ca, [...WARM_UP_ARGS], "plain");
        await new Promise((r) => setTimeout(r, 1000));
        record(
          `idle:${server.name}`,
          await drive(row, ca, [
            "--mode",
            "idle",
            "--settle",
            "2",
            "--conns",
            String(o.idle),
            "--login",
            "--users",
            String(o.nusers),
          ], "plain"),
        );
      }
    }
  } finally {
    for (const s of procs) {
      await s.stop().catch((e) => console.error(String(e)));
    }
    if (pg) {
      await run("bash", [`${ROOT}scripts/pg_stop.sh`, pg.data]).catch((e) =>
        console.error(String(e))
      );
    }
  }

  // ---- report
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const base = `${o.out}/real-${stamp}`;
  Deno.writeTextFileSync(
    `${base}.json`,
    JSON.stringify(
      {
        machine,
        options: o,
        rows: rows.map((r) => ({ ...r, server: r.server.name })),
        skipped,
        results,
      },
      null,
      1,
    ),
  );
  const report = summarize(o, rows, results);
  Deno.writeTextFileSync(`${base}.svg`, chart(o, report, machine));
  console.log(report.markdown);
  if (skipped.length > 0) console.log(`\nLeft out: ${skipped.join("; ")}`);
  console.log(
    `\nMedians of ${o.rounds} interleaved round(s) (${o.duration} s runs); ` +
      `ratios are medians of per-round ratios to Dovecot in the same mode.\n` +
      `Raw results: ${base}.json\nChart: ${base}.svg`,
  );
}

function wanted(o: Options, name: string): boolean {
  return o.only.length === 0 || name.startsWith("dovecot-") ||
    o.only.some((s) => name.includes(s));
}

// ---------------------------------------------------------------------------
// summary

interface Report {
  markdown: string;
  /** ratio[metric][storage][mode][runtime] */
  ratios: Record<
    string,
    Record<string, Record<string, Record<string, number>>>
  >;
}

function summarize(
  o: Options,
  rows: Row[],
  results: Record<string, Result[]>,
): Report {
  const num = (key: string, name: string, field: string) =>
    (results[`${key}:${name}`] ?? []).map((r) =>
      r.error ? NaN : Number(r[field])
    );
  const perRound = (key: string, name: string, base: string, field: string) => {
    const a = num(key, name, field);
    const b = num(key, base, field);
    return median(a.map((x, i) => x / b[i]));
  };
  const metrics: Array<[string, string, string]> = [
    ["sessions", "sessions_per_s", "sessions/s"],
    ["bulk", "mb_per_s", "50 MiB RETR MB/s"],
    ["handshakes", "sessions_per_s", "handshakes/s"],
  ];
  const ratios: Report["ratios"] = {};
  const md: string[] = [];

  // 1. ratios to Dovecot, ours only
  const cols: string[] = [];
  for (const [key, , label] of metrics) {
    if (!o.parts.includes(key as Part)) continue;
    for (const m of o.modes) {
      if (key === "handshakes" && m === "plain") continue;
      cols.push(`${label} ${MODE_LABEL[m]}`);
    }
  }
  if (o.parts.includes("idle")) cols.push("idle KiB/conn (RSS)");
  md.push(`| ours / Dovecot | ${cols.join(" | ")} |`);
  md.push(`|---|${cols.map(() => "---").join("|")}|`);
  for (const storage of o.storages) {
    for (const rt of o.runtimes) {
      const cells: string[] = [];
      let any = false;
      for (const [key, field] of metrics) {
        if (!o.parts.includes(key as Part)) continue;
        for (const m of o.modes) {
          if (key === "handshakes" && m === "plain") continue;
          const name = `ours-${rt}-${storage}-${m}`;
          if (rows.some((r) => r.name === name)) any = true;
          const x = perRound(key, name, `dovecot-${m}`, field);
          ((ratios[key] ??= {})[storage] ??= {})[m] ??= {};
          ratios[key][storage][m][rt] = x;
          cells.push(ratio(x));
        }
      }
      if (o.parts.includes("idle")) {
        const r = results[`idle:ours-${rt}-${storage}`]?.[0];
        cells.push(r ? fmt(Number(r.kib_per_conn_rss), 1) : "–");
      }
      if (any) {
        md.push(`| ${RUNTIME_LABEL[rt]}, ${storage} | ${cells.join(" | ")} |`);
      }
    }
  }
  if (o.parts.includes("idle")) {
    const r = results["idle:dovecot"]?.[0];
    md.push(
      `| Dovecot (absolute) | ${
        cols.slice(0, -1).map(() => "").join(" | ")
      } | ${r ? fmt(Number(r.kib_per_conn_rss), 1) : "–"} |`,
    );
  }

  // 2. PostgreSQL against Maildir and memory
  if (o.storages.includes("postgres") && o.parts.includes("sessions")) {
    md.push(
      "",
      "| PostgreSQL sessions/s | " +
        o.modes.map((m) =>
          `× Maildir ${MODE_LABEL[m]} | × memory ${MODE_LABEL[m]}`
        )
          .join(" | ") +
        " |",
    );
    md.push(`|---|${o.modes.map(() => "---|---").join("|")}|`);
    for (const rt of o.runtimes) {
      const cells = o.modes.flatMap((m) => [
        ratio(
          perRound(
            "sessions",
            `ours-${rt}-postgres-${m}`,
            `ours-${rt}-maildir-${m}`,
            "sessions_per_s",
          ),
        ),
        ratio(
          perRound(
            "sessions",
            `ours-${rt}-postgres-${m}`,
            `ours-${rt}-memory-${m}`,
            "sessions_per_s",
          ),
        ),
      ]);
      md.push(`| ${RUNTIME_LABEL[rt]} | ${cells.join(" | ")} |`);
    }
  }

  // 3. absolute numbers and diagnostics
  md.push(
    "",
    "| row | sessions/s | p50 / p99 ms | errors | driver CPU % | server CPU % | server CPU ms per session | machine % | bulk MB/s | % of limit | bulk driver / server CPU % | handshakes/s | hs driver / server CPU % | server CPU ms per handshake |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const row of rows) {
    const n = row.name;
    const f = (key: string, field: string, d = 0) =>
      fmt(median(num(key, n, field)), d);
    const lat = (q: string) =>
      fmt(
        median(
          (results[`sessions:${n}`] ?? []).map((r) =>
            Number((r.latency_ms as Record<string, number>)?.[q])
          ),
        ),
        1,
      );
    const errors = num("sessions", n, "errors").reduce((x, y) => x + y, 0);
    // Less noisy than a rate on a full machine: what each session cost.
    const cpuMs = (key: string) =>
      fmt(median((results[`${key}:${n}`] ?? []).map(serverCpuMsPerSession)), 2);
    md.push(
      `| ${n} | ${f("sessions", "sessions_per_s")} | ${lat("p50")} / ${
        lat("p99")
      } | ${Number.isNaN(errors) ? "–" : errors} | ${
        f("sessions", "driver_cpu_pct")
      } | ${f("sessions", "server_cpu_pct")} | ${cpuMs("sessions")} | ${
        f("sessions", "machine_busy_pct")
      } | ${f("bulk", "mb_per_s")} | ${
        row.mode === "plain"
          ? fmt(100 * perRound("bulk", n, "trivial-plain", "mb_per_s")) + "%"
          : "–"
      } | ${f("bulk", "driver_cpu_pct")} / ${f("bulk", "server_cpu_pct")} | ${
        f("handshakes", "sessions_per_s")
      } | ${f("handshakes", "driver_cpu_pct")} / ${
        f("handshakes", "server_cpu_pct")
      } | ${cpuMs("handshakes")} |`,
    );
  }
  return { markdown: md.join("\n"), ratios };
}

function chart(
  o: Options,
  report: Report,
  machine: Record<string, unknown>,
): string {
  const panels: Panel[] = [];
  const targets: Record<string, number> = {
    sessions: 2,
    bulk: 1,
    handshakes: 1,
  };
  const labels: Record<string, string> = {
    sessions: "sessions/s",
    bulk: "50 MiB RETR",
    handshakes: "TLS handshakes/s",
  };
  for (const key of ["sessions", "bulk", "handshakes"]) {
    if (!report.ratios[key]) continue;
    const modes = o.modes.filter((m) => key !== "handshakes" || m !== "plain");
    for (const storage of o.storages) {
      const byMode = report.ratios[key][storage];
      if (!byMode) continue;
      panels.push({
        title: `${labels[key]}, ${storage}`,
        target: targets[key],
        groups: modes.map((m) => MODE_LABEL[m]),
        series: o.runtimes.map((r) => RUNTIME_LABEL[r]),
        values: modes.map((m) => o.runtimes.map((r) => byMode[m]?.[r] ?? NaN)),
      });
    }
  }
  return barChart(
    "ours / Dovecot 2.3 on the same mail (ratio; higher is better)",
    panels,
    Math.max(1, o.storages.length),
    `${o.rounds} round(s), ${o.duration} s runs${
      o.quick ? " (--quick)" : ""
    }; ` +
      `commit ${String(machine.commit).split(" ")[0]}; load ${
        (machine.loadavg as number[]).map((x) => x.toFixed(1)).join(" ")
      } — a loaded machine's numbers are not results`,
  );
}

if (import.meta.main) await main();
