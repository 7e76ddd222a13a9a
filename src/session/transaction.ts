/**
 * The TRANSACTION state (RFC 1939 §5) and QUIT, which enters UPDATE.
 *
 * @module
 */

import { type Command, parseNumber } from "../protocol/command.ts";
import { err, ok } from "../protocol/reply.ts";
import { TopFilter } from "../protocol/top_filter.ts";
import type { SessionContext } from "./context.ts";
import { streamMessage } from "./message_stream.ts";

/** The message number in argument `index`, checked to be live. */
function message(s: SessionContext, cmd: Command, index = 0): number {
  return s.drop!.live(parseNumber(cmd.args[index], "message number"));
}

/**
 * STAT: the count and size of the messages not marked deleted.
 *
 * @example
 * ```ts ignore
 * stat(s);
 * ```
 */
export function stat(s: SessionContext): void {
  s.out.send(ok(`${s.drop!.liveCount} ${s.drop!.liveOctets}`));
}

/**
 * LIST [n]: sizes.
 *
 * @example
 * ```ts ignore
 * await list(s, cmd);
 * ```
 */
export function list(s: SessionContext, cmd: Command): Promise<void> {
  const drop = s.drop!;
  return perMessage(
    s,
    cmd,
    (n) => drop.size(n),
    () => `${drop.liveCount} messages (${drop.liveOctets} octets)`,
  );
}

/**
 * UIDL [n]: unique ids.
 *
 * @example
 * ```ts ignore
 * await uidl(s, cmd);
 * ```
 */
export function uidl(s: SessionContext, cmd: Command): Promise<void> {
  const drop = s.drop!;
  return perMessage(
    s,
    cmd,
    (n) => drop.uid(n),
    () => "Unique-ID listing follows",
  );
}

/** LIST and UIDL: `+OK n value` for one message, or a listing of all. */
async function perMessage(
  s: SessionContext,
  cmd: Command,
  value: (n: number) => number | string | Promise<number | string>,
  header: () => string,
): Promise<void> {
  if (cmd.args.length === 1) {
    const n = message(s, cmd);
    s.out.send(ok(`${n} ${await value(n)}`));
    return;
  }
  // Waits only for values that are Promises, so a synchronous storage costs
  // no microtask per message.
  const drop = s.drop!;
  let text = "";
  for (let n = 1; n <= drop.count; n++) {
    if (drop.isDeleted(n)) continue;
    const v = value(n);
    text += `${n} ${v instanceof Promise ? await v : v}\r\n`;
  }
  s.out.send(ok(header()));
  s.out.send(text + ".\r\n");
}

/**
 * DELE n: marks a message deleted.
 *
 * @example
 * ```ts ignore
 * await dele(s, cmd);
 * ```
 */
export async function dele(s: SessionContext, cmd: Command): Promise<void> {
  const n = message(s, cmd);
  await s.drop!.markDeleted(n);
  s.out.send(ok(`Message ${n} deleted`));
}

/**
 * NOOP.
 *
 * @example
 * ```ts ignore
 * noop(s);
 * ```
 */
export function noop(s: SessionContext): void {
  s.out.send(ok());
}

/**
 * RSET: unmarks every message.
 *
 * @example
 * ```ts ignore
 * rset(s);
 * ```
 */
export function rset(s: SessionContext): void {
  const drop = s.drop!;
  drop.reset();
  s.out.send(ok(`Maildrop has ${drop.count} messages (${drop.total} octets)`));
}

/**
 * RETR n: the whole message.
 *
 * @example
 * ```ts ignore
 * await retr(s, cmd);
 * ```
 */
export async function retr(s: SessionContext, cmd: Command): Promise<void> {
  const n = message(s, cmd);
  const size = await s.drop!.size(n);
  const body = await s.drop!.get(n);
  s.out.send(ok(`${size} octets`));
  await streamMessage(s, n, body, undefined, size);
}

/**
 * TOP n k: the headers and `k` body lines.
 *
 * @example
 * ```ts ignore
 * await top(s, cmd);
 * ```
 */
export async function top(s: SessionContext, cmd: Command): Promise<void> {
  const n = message(s, cmd);
  const lines = parseNumber(cmd.args[1], "line count");
  const body = await s.drop!.get(n);
  s.out.send(ok("Top of message follows"));
  await streamMessage(s, n, body, new TopFilter(lines), undefined);
}

/**
 * QUIT: in TRANSACTION, enters UPDATE, removes the marked messages and
 * releases the lock; the reply tells what was removed.
 *
 * @example
 * ```ts ignore
 * await quit(s);
 * ```
 */
export async function quit(s: SessionContext): Promise<void> {
  s.end("quit");
  if (s.state === "trans") {
    s.state = "update";
    const drop = s.drop!;
    try {
      const marked = drop.deletedIds().length;
      s.committed = await drop.commit();
      s.observer.count("messagesDeleted", s.committed);
      if (s.committed < marked) {
        s.out.send(
          err(
            `${
              marked - s.committed
            } of ${marked} deleted messages were not removed`,
            "SYS/TEMP",
          ),
        );
        return;
      }
    } catch (error) {
      s.report(error);
      s.out.send(err("Some deleted messages were not removed", "SYS/TEMP"));
      return;
    } finally {
      await s.release();
    }
  }
  s.out.send(ok("Bye"));
}
