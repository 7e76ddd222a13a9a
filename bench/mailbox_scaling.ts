/**
 * Cost growth with mailbox size: STAT, LIST and UIDL on maildrops of 1,000,
 * 10,000 and 100,000 messages, with the number of storage calls each command
 * makes. A synthetic storage answers every callback at once from arithmetic
 * (no per-message data), so what grows is the server's own work.
 *
 *     deno run -A bench/mailbox_scaling.ts [--sizes 1000,10000,100000]
 *
 * Prints a markdown table: milliseconds per command, wall clock and CPU time
 * of the process (server and client share it; the client only counts lines),
 * first and second time (the second LIST/UIDL answers from the session's
 * cache), the storage calls it made, and the heap growth per message while
 * the session is logged in.
 *
 * @module
 */

import process from "node:process";
import { MemoryAuth, Pop3d } from "../mod.ts";
import type { MessageSource, Pop3dStorage } from "../mod.ts";
import { ReplyReader } from "./_reply_reader.ts";

/** `count` messages of 100 to 149 octets; counts the calls it gets. */
class SyntheticStorage implements Pop3dStorage<string> {
  readonly count: number;
  calls = 0;

  constructor(count: number) {
    this.count = count;
  }

  lock(): boolean {
    this.calls++;
    return true;
  }
  unlock(): void {}
  stat(): number {
    this.calls++;
    return this.count;
  }
  size(_mbox: string, msgId?: number): number {
    this.calls++;
    if (msgId === undefined) {
      let total = 0;
      for (let n = 1; n <= this.count; n++) total += 100 + (n % 50);
      return total;
    }
    return 100 + (msgId % 50);
  }
  get(_mbox: string, msgId: number): MessageSource {
    this.calls++;
    return "x".repeat(98 + (msgId % 50)) + "\r\n";
  }
  uidl(_mbox: string, msgId: number): string {
    this.calls++;
    return `uid-${msgId}`;
  }
  dele(): void {}
}

const enc = new TextEncoder();

async function measure(count: number): Promise<string[]> {
  const storage = new SyntheticStorage(count);
  const auth = new MemoryAuth().addUser("alice", "secret");
  const server = new Pop3d({ hostname: "127.0.0.1", port: 0, auth, storage });
  await server.up();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.cget("port") as number,
  });
  const r = new ReplyReader(conn, 1 << 20);
  const rows: string[] = [];
  async function command(line: string, multi: boolean, label = line) {
    const calls = storage.calls;
    const cpu = process.cpuUsage();
    const t = performance.now();
    await conn.write(enc.encode(line + "\r\n"));
    if (!(await r.status())) throw new Error(`${line}: ${r.lineText()}`);
    let lines = 0;
    if (multi) lines = (await r.multiLine(true)).lines;
    const ms = performance.now() - t;
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000;
    if (multi && lines !== count) {
      throw new Error(`${line}: ${lines} lines for ${count} messages`);
    }
    rows.push(
      `| ${count} | ${label} | ${ms.toFixed(1)} | ${cpuMs.toFixed(1)} | ${
        (cpuMs * 1e6 / count).toFixed(0)
      } | ${storage.calls - calls} |`,
    );
  }
  try {
    await r.status();
    await command("USER alice", false);
    const heap0 = Deno.memoryUsage().heapUsed;
    await command("PASS secret", false, "PASS (login)");
    await command("STAT", false);
    await command("LIST", true);
    await command("LIST", true, "LIST again");
    await command("UIDL", true);
    await command("UIDL", true, "UIDL again");
    await command(`LIST ${count}`, false);
    const heap = Deno.memoryUsage().heapUsed - heap0;
    rows.push(
      `| ${count} | heap after LIST and UIDL | | | ${
        (heap / count).toFixed(0)
      } B/message | |`,
    );
    await command("QUIT", false);
  } finally {
    conn.close();
    await server.destroy();
  }
  return rows;
}

const i = Deno.args.indexOf("--sizes");
const sizes = (i === -1 ? "1000,10000,100000" : Deno.args[i + 1]).split(",")
  .map(Number);
console.log(
  "| messages | command | ms | CPU ms | CPU ns per message | storage calls |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const count of sizes) {
  for (const row of await measure(count)) console.log(row);
}
