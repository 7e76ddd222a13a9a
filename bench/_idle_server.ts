/**
 * The server half of `bench/idle_memory.ts`: {@linkcode Pop3d} with users
 * `u1`..`uN` (password `secret`, one small message each) over
 * {@linkcode MemoryStorage} or {@linkcode MaildirStorage}, on whatever
 * runtime runs it (Deno, Bun, Node 24). Prints `READY port=N` when
 * listening, then answers commands on stdin, one per line:
 *
 * - `mem`: collects garbage (twice, with a pause for background sweeping)
 *   and prints `MEM {"rss":…,"heap":…,"external":…}` (bytes).
 * - `snap PATH`: collects garbage and writes a V8 heap snapshot to PATH
 *   (Deno, Node; Bun writes its own format), then prints `SNAP PATH`.
 *
 * `--mode transport` serves no POP3 but the default socket's `Conn`s: "+OK"
 * per line received, with a read pending on the Web stream in between (the
 * transport's share). `--mode native` does the same with the runtime's own
 * socket API and no Web Streams (the runtime's floor).
 *
 *     deno run -A --v8-flags=--expose-gc bench/_idle_server.ts --users 5000
 *
 * @module
 */

import process from "node:process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { MaildirStorage } from "../maildir.ts";
import { defaultSocket, MemoryAuth, MemoryStorage, Pop3d } from "../mod.ts";
import type { Conn, MaildropStore, Pop3dStorage } from "../mod.ts";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && i + 1 < process.argv.length
    ? process.argv[i + 1]
    : fallback;
}

const host = globalThis as {
  gc?: () => void;
  Bun?: {
    gc(force: boolean): void;
    generateHeapSnapshot(format?: string): unknown;
  };
};

function collect(): void {
  if (host.Bun) host.Bun.gc(true);
  else if (host.gc) host.gc();
  else {throw new Error(
      "Run with --expose-gc (Node) or --v8-flags=--expose-gc (Deno)",
    );}
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

const OK = new TextEncoder().encode("+OK\r\n");

/** How many "+OK" lines a chunk asks for: one per line feed. */
function lineFeeds(chunk: Uint8Array): number {
  let n = 0;
  for (const byte of chunk) if (byte === 10) n++;
  return n;
}

async function serveConn(conn: Conn): Promise<void> {
  const reader = conn.readable.getReader();
  const writer = conn.writable.getWriter();
  try {
    await writer.write(OK);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let n = lineFeeds(value); n > 0; n--) await writer.write(OK);
    }
  } catch {
    // gone
  } finally {
    conn.close();
  }
}

type Stop = () => void | Promise<void>;

async function transportServer(): Promise<[number, Stop]> {
  const listener = await defaultSocket({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) serveConn(conn);
  })();
  return [listener.addr.port, () => listener.close()];
}

type NativeHost = {
  Deno?: {
    listen(o: { hostname: string; port: number }): {
      addr: { port: number };
      accept(): Promise<{
        read(b: Uint8Array): Promise<number | null>;
        write(b: Uint8Array): Promise<number>;
        close(): void;
      }>;
      close(): void;
    };
  };
  Bun?: {
    listen(o: unknown): { port: number; stop(all: boolean): void };
  };
};

async function nativeServer(): Promise<[number, Stop]> {
  const native = globalThis as NativeHost;
  if (native.Deno) {
    const listener = native.Deno.listen({ hostname: "127.0.0.1", port: 0 });
    (async () => {
      for (;;) {
        const conn = await listener.accept();
        (async () => {
          await conn.write(OK);
          for (;;) {
            const buffer = new Uint8Array(512);
            const n = await conn.read(buffer);
            if (n === null) break;
            for (let k = lineFeeds(buffer.subarray(0, n)); k > 0; k--) {
              await conn.write(OK);
            }
          }
        })().catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch {
            // closed
          }
        });
      }
    })().catch(() => {});
    return [listener.addr.port, () => listener.close()];
  }
  if (native.Bun) {
    const server = native.Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (s: { write(b: Uint8Array): number }) => s.write(OK),
        data(s: { write(b: Uint8Array): number }, chunk: Uint8Array) {
          for (let n = lineFeeds(chunk); n > 0; n--) s.write(OK);
        },
      },
    });
    return [server.port, () => server.stop(true)];
  }
  const net = await import("node:net");
  const server = net.createServer((socket) => {
    socket.write(OK);
    socket.on("data", (chunk: Uint8Array) => {
      for (let n = lineFeeds(chunk); n > 0; n--) socket.write(OK);
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return [port, () => void server.close()];
}

async function pop3Server(): Promise<[number, Stop]> {
  const users = Number(option("users", "1000"));
  const maildirRoot = option("maildir", "");
  const message = "From: a@example.org\r\nSubject: idle\r\n\r\nHello\r\n";
  let storage: Pop3dStorage<string> | MaildropStore<string>;
  if (maildirRoot) {
    for (let i = 1; i <= users; i++) {
      const dir = join(maildirRoot, `u${i}`);
      for (const sub of ["cur", "new", "tmp"]) {
        mkdirSync(join(dir, sub), { recursive: true });
      }
      writeFileSync(join(dir, "cur", `1700000000.M1P1.idle:2,`), message);
    }
    storage = new MaildirStorage({ root: maildirRoot });
  } else {
    const memory = new MemoryStorage();
    for (let i = 1; i <= users; i++) memory.deliver(`u${i}`, message);
    storage = memory;
  }
  const auth = new MemoryAuth();
  for (let i = 1; i <= users; i++) auth.addUser(`u${i}`, "secret");

  const server = new Pop3d({
    hostname: "127.0.0.1",
    port: 0,
    auth,
    storage,
    maxConnections: 100_000,
    maxConnectionsPerAddress: 100_000,
    onError: (error) => console.error("pop3d error:", error),
  });
  await server.up();
  return [Number(server.cget("port")), () => server.destroy("kill")];
}

const mode = option("mode", "pop3d");
const [port, stop] = mode === "native"
  ? await nativeServer()
  : mode === "transport"
  ? await transportServer()
  : await pop3Server();
console.log(`READY port=${port}`);

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const [command, arg] = line.trim().split(" ");
  if (command === "mem") {
    await settle();
    const m = process.memoryUsage();
    console.log(
      `MEM ${
        JSON.stringify({
          rss: m.rss,
          heap: m.heapUsed,
          heapTotal: m.heapTotal,
          external: m.external,
        })
      }`,
    );
  } else if (command === "snap") {
    await settle();
    if (host.Bun) {
      writeFileSync(arg, JSON.stringify(host.Bun.generateHeapSnapshot()));
    } else {
      const v8 = await import("node:v8");
      v8.writeHeapSnapshot(arg);
    }
    console.log(`SNAP ${arg}`);
  } else if (command === "quit") {
    lines.close();
    await stop();
    process.exit(0);
  }
});
