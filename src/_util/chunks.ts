/**
 * Reading a byte stream chunk by chunk, with the chunk type checked.
 *
 * @module
 */

/**
 * Yields the chunks of `stream`, each checked to be a `Uint8Array`. When
 * the stream ends, its lock is released; when reading fails, a chunk is not
 * bytes, or the caller stops early (a `break` or a throw in its loop), the
 * stream is cancelled.
 *
 * @param stream The stream to read; it must not be locked.
 * @param badChunk The message of the `TypeError` for a chunk that is not bytes.
 * @throws {TypeError} `badChunk`, for a chunk that is not a `Uint8Array`.
 *
 * @example
 * ```ts
 * import { byteChunks } from "./chunks.ts";
 * const stream = new Blob(["hello"]).stream();
 * let size = 0;
 * for await (const chunk of byteChunks(stream, "not bytes")) size += chunk.length;
 * console.assert(size === 5);
 * ```
 */
export async function* byteChunks(
  stream: ReadableStream<Uint8Array>,
  badChunk: string,
): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = stream.getReader();
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        return;
      }
      if (!(value instanceof Uint8Array)) throw new TypeError(badChunk);
      yield value;
    }
  } finally {
    if (ended) reader.releaseLock();
    else reader.cancel().catch(() => {});
  }
}

/**
 * A BYOB reader of `stream` (a byte stream: the caller's buffer is filled),
 * or `undefined` when the stream is not a byte stream (or is locked).
 *
 * @param stream The stream to read.
 *
 * @example
 * ```ts
 * import { byobReader } from "./chunks.ts";
 * console.assert(byobReader(new Blob(["x"]).stream()) === undefined);
 * const bytes = new ReadableStream({ type: "bytes" });
 * console.assert(byobReader(bytes) !== undefined);
 * ```
 */
export function byobReader(
  stream: ReadableStream<Uint8Array>,
): ReadableStreamBYOBReader | undefined {
  try {
    return stream.getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}
