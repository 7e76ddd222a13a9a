/**
 * Storing a message in PostgreSQL: one transaction, CRLF line ends, the
 * message split into chunk rows as it streams in.
 *
 * @module
 */

import { toCrlf } from "../_util/crlf.ts";
import { byteChunks } from "../_util/chunks.ts";
import { checkUid } from "../_util/uid.ts";
import { ensureMailbox, toNumber } from "./_sql.ts";
import type { PgClient, PgMailbox } from "./types.ts";

const encoder = new TextEncoder();

/** Options for {@linkcode PostgresStorage.deliver}. */
export interface PgDeliverOptions {
  /** Unique id for UIDL (1 to 70 characters from `!` to `~`); default: the row id. */
  uid?: string;
}

/** A delivered message, as {@linkcode PostgresStorage.deliver} reports it. */
export interface PgDelivery {
  /** Row id in `pop3d_messages`; later deliveries get larger ids. */
  readonly id: number;
  /** The UIDL. */
  readonly uid: string;
  /** Size in octets with CRLF line ends, as RETR sends it. */
  readonly size: number;
}

/**
 * Stores a message (see {@linkcode PostgresStorage.deliver}).
 *
 * @example
 * ```ts ignore
 * await deliverMessage(db, 1 << 20, "alice", "Subject: hi\r\n\r\nHi\r\n");
 * ```
 */
export async function deliverMessage(
  db: PgClient,
  chunkSize: number,
  mailbox: string | PgMailbox,
  message: string | Uint8Array | ReadableStream<Uint8Array>,
  options: PgDeliverOptions = {},
): Promise<PgDelivery> {
  if (options.uid !== undefined) checkUid(options.uid);
  let source: ReadableStream<Uint8Array> | Uint8Array;
  if (typeof message === "string") source = toCrlf(encoder.encode(message));
  else if (message instanceof Uint8Array) source = toCrlf(message);
  else if (message instanceof ReadableStream) source = message;
  else {
    throw new TypeError(
      "Message must be a string, a Uint8Array or a ReadableStream",
    );
  }
  return await db.transaction(async (tx) => {
    const box = typeof mailbox === "string"
      ? await ensureMailbox(tx, mailbox)
      : mailbox;
    const { rows } = await tx.query(
      `WITH n AS (
         SELECT nextval(pg_get_serial_sequence('pop3d_messages', 'id')) AS id
       )
       INSERT INTO pop3d_messages (id, mailbox_id, uid, size)
       SELECT n.id, $1::bigint, COALESCE($2::text, n.id::text), $3::bigint
       FROM n RETURNING id, uid`,
      [
        box.id,
        options.uid ?? null,
        source instanceof Uint8Array ? source.length : 0,
      ],
    );
    const id = toNumber(rows[0]?.id, "message id");
    const uid = String(rows[0]?.uid);
    let seq = 0;
    const put = (data: Uint8Array) =>
      tx.query(
        `INSERT INTO pop3d_chunks (message_id, seq, data)
         VALUES ($1::bigint, $2::integer, $3::bytea)`,
        [id, seq++, data],
      );
    if (source instanceof Uint8Array) {
      for (let at = 0; at < source.length; at += chunkSize) {
        await put(source.subarray(at, at + chunkSize));
      }
      return { id, uid, size: source.length };
    }
    let size = 0;
    let prev = -1;
    let buffer = new Uint8Array(chunkSize);
    let filled = 0;
    const chunks = byteChunks(
      source,
      "Message stream must yield Uint8Array chunks",
    );
    for await (const value of chunks) {
      if (value.length === 0) continue;
      let piece = toCrlf(value, prev);
      prev = value[value.length - 1];
      size += piece.length;
      while (piece.length > 0) {
        const n = Math.min(piece.length, chunkSize - filled);
        buffer.set(piece.subarray(0, n), filled);
        filled += n;
        piece = piece.subarray(n);
        if (filled === chunkSize) {
          await put(buffer);
          buffer = new Uint8Array(chunkSize);
          filled = 0;
        }
      }
    }
    if (filled > 0) await put(buffer.subarray(0, filled));
    await tx.query(
      "UPDATE pop3d_messages SET size = $2::bigint WHERE id = $1::bigint",
      [id, size],
    );
    return { id, uid, size };
  });
}
