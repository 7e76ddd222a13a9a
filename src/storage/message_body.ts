/**
 * Turns what a storage returns for a message into bytes or a stream.
 *
 * @module
 */

import type { MessageSource } from "./types.ts";

/** A message's bytes: in memory, or a stream of chunks. */
export type MessageBody = Uint8Array | ReadableStream<Uint8Array>;

/**
 * Turns a {@linkcode MessageSource} into bytes or a stream of bytes: a
 * string is encoded, a `Blob` is streamed, bytes and streams stay as they
 * are (no copy).
 *
 * @example
 * ```ts
 * import { messageBody } from "./message_body.ts";
 * const body = messageBody("hi");
 * console.assert(body instanceof Uint8Array && body.length === 2);
 * ```
 */
export function messageBody(source: MessageSource): MessageBody {
  if (typeof source === "string") return new TextEncoder().encode(source);
  if (source instanceof Uint8Array || source instanceof ReadableStream) {
    return source;
  }
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    return source.stream();
  }
  throw new TypeError(
    `Storage "get" returned an unsupported value: ${
      Object.prototype.toString.call(source)
    }`,
  );
}
