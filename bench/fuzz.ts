/**
 * Runs many seeded fuzz cases against Pop3Session over in-memory streams
 * and checks the invariants of tests/_helpers/fuzz_session.ts: run() never
 * rejects, no onError, every reply a well-formed status line or a
 * well-formed multi-line block, RETR returns the stored bytes, the mailbox
 * is unlocked at the end, nothing is deleted without QUIT.
 *
 *     deno run -A bench/fuzz.ts --cases 100000 [--seed 1]
 *     bun bench/fuzz.ts --cases 100000
 *     node bench/fuzz.ts --cases 100000        (Node 24)
 *
 * Exits 1 on any failure and prints the failing seeds; replay one with
 * `--seed N --cases 1`.
 */

import process from "node:process";
import {
  FUZZ_STATS,
  generateCase,
  runCase,
} from "../tests/_helpers/fuzz_session.ts";

function flag(name: string, fallback: number): number {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  const value = i === -1 ? undefined : Number(args[i + 1]);
  return value !== undefined && Number.isFinite(value) ? value : fallback;
}

const cases = flag("cases", 10_000);
const first = flag("seed", 1);
const unhandled: unknown[] = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason));

const started = Date.now();
const failures: string[] = [];
let bytesIn = 0;
let bytesOut = 0;
for (let i = 0; i < cases; i++) {
  const seed = first + i;
  const result = await runCase(generateCase(seed));
  bytesIn += result.bytesIn;
  bytesOut += result.bytesOut;
  if (result.problem) {
    failures.push(`seed ${seed}: ${result.problem}`);
    if (failures.length <= 20) {
      console.log(`FAIL seed ${seed}: ${result.problem}`);
    }
  }
  if ((i + 1) % 10_000 === 0) {
    console.log(
      `${i + 1} cases, ${failures.length} failures, ${
        ((Date.now() - started) / 1000).toFixed(0)
      } s`,
    );
  }
}
const seconds = (Date.now() - started) / 1000;
console.log(`cases:       ${cases} (seeds ${first}..${first + cases - 1})`);
console.log(`failures:    ${failures.length}`);
console.log(`unhandled:   ${unhandled.length}`);
console.log(
  `bytes:       ${(bytesIn / 1048576).toFixed(1)} MB in, ${
    (bytesOut / 1048576).toFixed(1)
  } MB out`,
);
console.log(
  `time:        ${seconds.toFixed(1)} s (${
    (cases / seconds).toFixed(0)
  } cases/s)`,
);
console.log(`reached:     ${JSON.stringify(FUZZ_STATS)}`);
process.exit(failures.length === 0 && unhandled.length === 0 ? 0 : 1);
