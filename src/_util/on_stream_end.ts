/**
 * Running a step after the last chunk of a byte stream, before its reader
 * sees the end.
 *
 * @module
 */

import { byobReader } from "./chunks.ts";
import { readInto, withReadInto } from "./read_into.ts";

/**
 * Returns a stream of the same bytes that awaits `onEnd` after the last
 * chunk and only then reports its end; a stream read only in part (or
 * cancelled) never runs it. A byte stream stays one: a BYOB reader's view
 * is handed on to `stream`'s own BYOB reader, so the bytes land in the
 * caller's buffer without a copy or an allocation per chunk. A stream with
 * a `ReadInto` (`read_into.ts`) gives the result one that runs `onEnd` when
 * it reads the end.
 *
 * @param stream The stream to read; it must not be locked.
 * @param onEnd Runs once, after the last chunk; it should not throw.
 *
 * @example
 * ```ts
 * import { onStreamEnd } from "./on_stream_end.ts";
 * let ended = false;
 * const stream = onStreamEnd(new Blob(["hello"]).stream(), () => {
 *   ended = true;
 * });
 * const text = await new Response(stream).text();
 * console.assert(text === "hello" && ended);
 * ```
 */
export function onStreamEnd(
  stream: ReadableStream<Uint8Array>,
  onEnd: () => void | Promise<void>,
): ReadableStream<Uint8Array> {
  // Taken before the reader locks `stream`; used only through the stream
  // returned, which then reads nothing itself (one or the other).
  const direct = readInto(stream);
  const reader = byobReader(stream);
  if (reader === undefined) return defaultStream(stream.getReader(), onEnd);
  const wrapped = new ReadableStream({
    type: "bytes",
    // A default reader's read gets a view of this size: the request below
    // is then always there.
    autoAllocateChunkSize: 64 * 1024,
    async pull(controller) {
      const request = controller.byobRequest!;
      const view = request.view as Uint8Array;
      // The inner read takes the view's buffer over and hands back a view
      // of it, which answers the request (respondWithNewView).
      const { done, value } = await reader.read(
        new Uint8Array(view.buffer, view.byteOffset, view.length),
      );
      if (done) {
        await onEnd();
        controller.close();
      }
      // (Only a cancelled inner stream ends without one.)
      if (value !== undefined) request.respondWithNewView(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  if (direct === undefined) return wrapped;
  let ended = false;
  return withReadInto(wrapped, async (view) => {
    const n = await direct(view);
    if (n === 0 && !ended) {
      ended = true;
      await onEnd();
    }
    return n;
  });
}

function defaultStream(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  onEnd: () => void | Promise<void>,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (!done) return controller.enqueue(value);
      await onEnd();
      controller.close();
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
