/**
 * Server half of the runtime comparison (bench/runtimes_bench.py starts it).
 * Runs unchanged on Deno, Bun and Node 24 with the host's default adapter.
 *
 * Users `u0`..`u255` (password `pw`) each hold one message of `--mb` MiB
 * (default 100), streamed from storage in 64 KiB slices of one shared
 * buffer. Prints `PORT <n>`; answers each `rss` line on stdin with
 * `RSS <bytes>` (after a GC when the runtime exposes one); exits when stdin
 * closes. A second listener (`RAW <port>`) writes the same bytes straight to
 * each connection's writable in 64 KiB chunks, without the POP3 core: the
 * adapter's own cost.
 *
 *     deno run -A bench/runtimes_server.ts --mb 100
 *     bun bench/runtimes_server.ts
 *     node bench/runtimes_server.ts
 */

import process from "node:process";
import { defaultSocket, MemoryAuth, Pop3d, type Pop3dStorage } from "../mod.ts";

const at = process.argv.indexOf("--mb");
const size = Number(at === -1 ? 100 : process.argv[at + 1]) * 2 ** 20;
const LINE = 1000;
const message = new Uint8Array(size).fill(0x61);
for (let end = LINE; end <= size; end += LINE) {
  message[end - 2] = 13;
  message[end - 1] = 10;
}
message[size - 2] = 13;
message[size - 1] = 10;

const auth = new MemoryAuth();
for (let i = 0; i < 256; i++) auth.addUser(`u${i}`, "pw");
const locks = new Set<string>();
const storage: Pop3dStorage<string> = {
  lock: (mbox) => !locks.has(mbox) && !!locks.add(mbox),
  unlock: (mbox) => void locks.delete(mbox),
  stat: () => 1,
  size: () => size,
  get: () => {
    let offset = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= size) return controller.close();
        controller.enqueue(message.subarray(offset, offset += 65536));
      },
    }, { highWaterMark: 0 });
  },
  dele: () => {},
};

const server = new Pop3d({
  hostname: "127.0.0.1",
  port: 0,
  auth,
  storage,
  maxConnections: 100_000,
  maxConnectionsPerAddress: 100_000,
});
await server.up();
console.log(`PORT ${server.cget("port")}`);

const raw = await defaultSocket({ hostname: "127.0.0.1", port: 0 });
console.log(`RAW ${raw.addr.port}`);
(async () => {
  for await (const conn of raw) {
    (async () => {
      const writer = conn.writable.getWriter();
      for (let at = 0; at < size; at += 65536) {
        await writer.write(message.subarray(at, at + 65536));
      }
      await writer.close().catch(() => {});
      conn.close();
    })().catch(() => conn.close());
  }
})();

function collect(): void {
  const host = globalThis as {
    gc?: () => void;
    Bun?: { gc(force: boolean): void };
  };
  host.Bun?.gc(true);
  host.gc?.();
}
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text: string) => {
  input += text;
  for (; input.includes("\n"); input = input.slice(input.indexOf("\n") + 1)) {
    collect();
    console.log(`RSS ${process.memoryUsage().rss}`);
  }
});
process.stdin.on("end", async () => {
  raw.close();
  await server.destroy();
  process.exit(0);
});
