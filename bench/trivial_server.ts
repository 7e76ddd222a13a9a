/**
 * The physical-limit reference: a "server" that answers the driver's session
 * script with canned bytes and does no protocol work. Every reply (STAT,
 * LIST, each RETR with its dot-stuffed body and terminator) is built once at
 * start-up from the same Maildir the real servers serve; per command it only
 * looks at the first letter (and the RETR number), and it writes all replies
 * for the commands of one read in one write.
 *
 *     deno run -A bench/trivial_server.ts --port 1110 \
 *       --maildir /tmp/dv/mail/alice/Maildir --big-maildir /tmp/dv/mail/big/Maildir
 *
 * The user "big" gets the big Maildir, every other user the normal one.
 * Prints `READY port=N pid=P` when listening.
 *
 * @module
 */

import { loadMaildir, multiLineReply } from "./_maildir.ts";

interface Mailbox {
  stat: Uint8Array;
  list: Uint8Array;
  retr: Uint8Array[];
}

const enc = new TextEncoder();

function mailbox(messages: Uint8Array[]): Mailbox {
  const total = messages.reduce((n, m) => n + m.length, 0);
  const listBody = messages.map((m, i) => `${i + 1} ${m.length}\r\n`).join("");
  return {
    stat: enc.encode(`+OK ${messages.length} ${total}\r\n`),
    list: multiLineReply(
      `+OK ${messages.length} messages`,
      enc.encode(listBody),
    ),
    retr: messages.map((m) => multiLineReply(`+OK ${m.length} octets`, m)),
  };
}

function arg(name: string, fallback?: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  if (i !== -1 && i + 1 < Deno.args.length) return Deno.args[i + 1];
  if (fallback === undefined) {
    throw new TypeError(`Option "--${name}" is required`);
  }
  return fallback;
}

const GREETING = enc.encode("+OK trivial ready\r\n");
const OK = enc.encode("+OK\r\n");
const BYE = enc.encode("+OK bye\r\n");
const ERR = enc.encode("-ERR\r\n");
const LF = 0x0a;

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function serve(
  conn: Deno.TcpConn,
  normal: Mailbox,
  big: Mailbox,
): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(1024);
  let have = 0;
  let box = normal;
  try {
    await writeAll(conn, GREETING);
    for (;;) {
      const n = await conn.read(buf.subarray(have));
      if (n === null) return;
      have += n;
      const out: Uint8Array[] = [];
      let start = 0;
      let quit = false;
      for (
        let i = buf.indexOf(LF, start);
        i !== -1 && i < have;
        i = buf.indexOf(LF, start)
      ) {
        switch (buf[start] | 0x20) {
          case 0x75: // USER: "big" picks the big mailbox
            box = buf[start + 5] === 0x62 && buf[start + 6] === 0x69
              ? big
              : normal;
            out.push(OK);
            break;
          case 0x70: // PASS
            out.push(OK);
            break;
          case 0x73: // STAT
            out.push(box.stat);
            break;
          case 0x6c: // LIST
            out.push(box.list);
            break;
          case 0x72: { // RETR n
            let k = 0;
            for (let p = start + 5; buf[p] >= 0x30 && buf[p] <= 0x39; p++) {
              k = k * 10 + buf[p] - 0x30;
            }
            out.push(box.retr[k - 1] ?? ERR);
            break;
          }
          case 0x71: // QUIT
            out.push(BYE);
            quit = true;
            break;
          default:
            out.push(ERR);
        }
        start = i + 1;
      }
      buf.copyWithin(0, start, have);
      have -= start;
      if (have === buf.length) return; // a line longer than the buffer
      if (out.length > 0) await writeAll(conn, concat(out));
      if (quit) return;
    }
  } catch {
    // the client went away
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

if (import.meta.main) {
  const normal = mailbox(loadMaildir(arg("maildir")));
  const bigDir = arg("big-maildir", "");
  const big = bigDir === "" ? normal : mailbox(loadMaildir(bigDir));
  const listener = Deno.listen({
    hostname: "127.0.0.1",
    port: Number(arg("port", "0")),
  });
  console.log(
    `READY port=${(listener.addr as Deno.NetAddr).port} pid=${Deno.pid}`,
  );
  for await (const conn of listener) serve(conn, normal, big);
}
