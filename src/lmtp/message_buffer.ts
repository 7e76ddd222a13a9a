/**
 * The message of one LMTP transaction, collected as DATA arrives.
 *
 * @module
 */

const EMPTY = new Uint8Array(0);

/**
 * A growing buffer with a size limit: past the limit it drops what it has
 * and remembers only that the message was too big.
 *
 * @example
 * ```ts
 * import { MessageBuffer } from "./message_buffer.ts";
 * const message = new MessageBuffer(4);
 * message.append(new Uint8Array([1, 2, 3]));
 * console.assert(message.bytes().length === 3);
 * message.append(new Uint8Array([4, 5]));
 * console.assert(message.tooBig);
 * ```
 */
export class MessageBuffer {
  readonly #max: number;
  #message: Uint8Array = EMPTY;
  #size = 0;
  #tooBig = false;

  /** @param max The largest message in octets. */
  constructor(max: number) {
    this.#max = max;
  }

  /** Whether more than the limit arrived. */
  get tooBig(): boolean {
    return this.#tooBig;
  }

  /** Appends one piece, unless the message is too big already or now. */
  append(piece: Uint8Array): void {
    if (this.#tooBig) return;
    const size = this.#size + piece.length;
    if (size > this.#max) {
      this.#tooBig = true;
      this.#message = EMPTY;
      return;
    }
    if (size > this.#message.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(size, this.#message.length * 2, 4096), this.#max),
      );
      grown.set(this.#message.subarray(0, this.#size));
      this.#message = grown;
    }
    this.#message.set(piece, this.#size);
    this.#size = size;
  }

  /** The message so far (a view, valid until the next `clear`). */
  bytes(): Uint8Array {
    return this.#message.subarray(0, this.#size);
  }

  /** Starts over for the next transaction. */
  clear(): void {
    this.#message = EMPTY;
    this.#size = 0;
    this.#tooBig = false;
  }
}
