/**
 * Internal: a way for the built-in file streams to let the session read a
 * message's bytes into memory of its choosing, such as the WebAssembly
 * memory its encoder works in, which a BYOB reader cannot take (a BYOB read
 * transfers its view's buffer, and WebAssembly memory cannot be
 * transferred). A stream that carries {@linkcode READ_INTO} is still a
 * plain `ReadableStream` for everyone else; whoever uses the function reads
 * the stream only through it, and cancels the stream to give it up early.
 *
 * @module
 */

/**
 * The key of a stream's {@linkcode ReadInto}.
 *
 * @example
 * ```ts ignore
 * const read = (stream as WithReadInto)[READ_INTO];
 * ```
 */
export const READ_INTO: unique symbol = Symbol.for("@x/pop3d.readInto");

/**
 * Reads the stream's next octets into `view` (which is not transferred and
 * may be any view) and resolves with how many it read: 0 at the end, after
 * which the stream has let go of its source. One read at a time.
 */
export type ReadInto = (view: Uint8Array) => Promise<number>;

/** A stream that may carry a {@linkcode ReadInto}. */
export type WithReadInto = ReadableStream<Uint8Array> & {
  [READ_INTO]?: ReadInto;
};

/**
 * The stream's {@linkcode ReadInto}, if it has one and is not locked.
 *
 * @example
 * ```ts
 * import { readInto } from "./read_into.ts";
 * console.assert(readInto(new Blob(["a"]).stream()) === undefined);
 * ```
 */
export function readInto(
  stream: ReadableStream<Uint8Array>,
): ReadInto | undefined {
  if (stream.locked) return undefined;
  return (stream as WithReadInto)[READ_INTO];
}

/**
 * Gives `stream` a {@linkcode ReadInto} and returns it.
 *
 * @example
 * ```ts
 * import { readInto, withReadInto } from "./read_into.ts";
 * const bytes = new TextEncoder().encode("hello");
 * let at = 0;
 * const stream = withReadInto(new ReadableStream<Uint8Array>(), (view) => {
 *   const n = Math.min(view.length, bytes.length - at);
 *   view.set(bytes.subarray(at, at + n));
 *   at += n;
 *   return Promise.resolve(n);
 * });
 * console.assert(readInto(stream) !== undefined);
 * ```
 */
export function withReadInto(
  stream: ReadableStream<Uint8Array>,
  read: ReadInto,
): ReadableStream<Uint8Array> {
  (stream as WithReadInto)[READ_INTO] = read;
  return stream;
}
