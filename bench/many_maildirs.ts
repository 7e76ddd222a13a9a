/**
 * A login's cost against how many Maildirs the storage has served: one
 * `MaildirStorage` opens and closes each of N Maildirs once (so that it
 * holds a cache for each, as a server that has seen N users does), then
 * logins of random ones are timed (open + close of the maildrop: the lock,
 * the listing, the unlock). Runs on the runtime that starts it:
 *
 *     deno run -A bench/many_maildirs.ts [--counts 1000,10000,50000] [--dir DIR]
 *     bun bench/many_maildirs.ts
 *     node bench/many_maildirs.ts
 *
 * The Maildirs (one 200-octet message each) are made once under `--dir`
 * and kept for later runs. Prints µs per login, median of 5 rounds.
 *
 * @module
 */

import process from "node:process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { MaildirStorage } from "../maildir.ts";
import { runtimeName } from "../tests/_helpers/runtime.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    counts: { type: "string", default: "1000,10000,50000" },
    dir: { type: "string", default: "/tmp/pop3d-many-maildirs" },
    logins: { type: "string", default: "2000" },
  },
});
const counts = values.counts.split(",").map(Number);
const logins = Number(values.logins);
if (counts.some((n) => !(n > 0)) || !(logins > 0)) {
  throw new RangeError("--counts and --logins must be positive numbers");
}
const max = Math.max(...counts);
const message = "Subject: hi\n\n" + "x".repeat(186) + "\n";
for (let i = 0; i < max; i++) {
  const box = `${values.dir}/u${i}`;
  if (existsSync(`${box}/cur`)) continue;
  for (const sub of ["cur", "new", "tmp"]) {
    mkdirSync(`${box}/${sub}`, { recursive: true });
  }
  writeFileSync(`${box}/cur/1700000000.M${i}P1.bench,S=200:2,S`, message);
}

const signal = new AbortController().signal;
const rows: string[] = [];
for (const n of counts) {
  const storage = new MaildirStorage({ root: values.dir });
  const login = async (i: number) => {
    const handle = await storage.openMaildrop(`u${i}`, {
      user: `u${i}`,
      signal,
    });
    if (handle === null) throw new Error(`u${i}: no Maildir`);
    await handle.close();
  };
  for (let i = 0; i < n; i++) await login(i);
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    for (let k = 0; k < logins; k++) await login((k * 7919 + round) % n);
    rounds.push((performance.now() - t0) * 1000 / logins);
  }
  rounds.sort((a, b) => a - b);
  rows.push(`| ${n} | ${rounds[2].toFixed(1)} |`);
}
const name = runtimeName();
const runtime = name === "node" ? `node ${process.version}` : name;
console.log(`${runtime}: µs per login (open + close), median of 5 rounds`);
console.log("| Maildirs served | µs per login |\n| ---: | ---: |");
console.log(rows.join("\n"));
