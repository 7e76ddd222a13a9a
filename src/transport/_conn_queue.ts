/**
 * Accepted connections waiting for the server's accept loop: the part of a
 * {@linkcode Listener} that callback-based adapters (Bun, Node) share.
 *
 * @module
 */

import type { Conn } from "./types.ts";

/**
 * A queue of accepted connections that is also their async iterable; the
 * iteration ends once the queue is closed and drained.
 *
 * @example
 * ```ts ignore
 * const queue = new ConnQueue();
 * queue.push(conn);
 * queue.close();
 * for await (const c of queue) c.close();
 * ```
 */
export class ConnQueue implements AsyncIterable<Conn> {
  #pending: Conn[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  /** Whether {@linkcode ConnQueue.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds an accepted connection; closes it when the queue is closed. */
  push(conn: Conn): void {
    if (this.#closed) return conn.close();
    this.#pending.push(conn);
    this.#wake?.();
  }

  /** Ends the iteration once the queued connections are taken. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  /** Yields connections as they arrive. */
  async *[Symbol.asyncIterator](): AsyncIterator<Conn> {
    for (;;) {
      const conn = this.#pending.shift();
      if (conn) yield conn;
      else if (this.#closed) return;
      else await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }
}
