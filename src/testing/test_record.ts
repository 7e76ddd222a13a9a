/**
 * What {@linkcode TestBackend} records: its calls, what the server deleted,
 * and the message streams it hands out for `get`, which record how far the
 * server read them.
 *
 * @module
 */

import { InjectedFaultError } from "./injected_fault_error.ts";
import type { BackendMethod } from "./test_fault.ts";

const CHUNK = 64 * 1024;

/** One message removed by a `dele` call (after the client's QUIT). */
export interface Deletion {
  /** The maildrop. */
  readonly mbox: string;
  /** The message number the session used. */
  readonly msgId: number;
  /** The message's unique id. */
  readonly uid: string;
  /** The message's bytes, as stored. */
  readonly bytes: Uint8Array;
}

/** One call of an auth or storage callback, in order. */
export interface BackendCall {
  /** The callback. */
  readonly method: BackendMethod;
  /** The user name (`exists`, `lookup`) or the maildrop (storage callbacks). */
  readonly name: string;
  /** The message numbers of the call, if any. */
  readonly msgIds: readonly number[];
  /** Whether an injected fault hit the call. */
  readonly faulted: boolean;
}

/** What became of the message stream of one `get` call. */
export type RetrievalStatus =
  /** The server has not finished reading it (or never started). */
  | "open"
  /** The server read it to its end: RETR, or TOP with enough lines. */
  | "complete"
  /** The server stopped reading early: TOP, or the client went away. */
  | "cancelled"
  /** A `dropAfter` fault cut it off. */
  | "dropped";

/** One `get` call: the server opened a message for RETR or TOP. */
export interface Retrieval {
  /** The maildrop. */
  readonly mbox: string;
  /** The message number the session used. */
  readonly msgId: number;
  /** The message's unique id. */
  readonly uid: string;
  /** Octets the server has read from the stream. */
  readonly octets: number;
  /** What became of the stream. */
  readonly status: RetrievalStatus;
}

/** The record of one retrieval, updated as the stream is read. */
export interface RecordingEntry {
  mbox: string;
  msgId: number;
  uid: string;
  octets: number;
  status: RetrievalStatus;
}

/** A pull-only stream of a copy of `bytes` that keeps `entry` up to date. */
export function recordingStream(
  bytes: Uint8Array,
  entry: RecordingEntry,
  dropAfter: number | undefined,
): ReadableStream<Uint8Array> {
  const limit = Math.min(dropAfter ?? bytes.length, bytes.length);
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at < limit) {
        const end = Math.min(limit, at + CHUNK);
        controller.enqueue(bytes.slice(at, end));
        entry.octets = at = end;
      } else if (dropAfter !== undefined) {
        entry.status = "dropped";
        controller.error(
          new InjectedFaultError(
            `Message ${entry.msgId} dropped after ${limit} octets`,
          ),
        );
      } else {
        entry.status = "complete";
        controller.close();
      }
    },
    cancel() {
      if (entry.status === "open") entry.status = "cancelled";
    },
  }, { highWaterMark: 0 });
}

/** What a {@linkcode TestBackend} saw, oldest first. */
export class TestRecords {
  readonly #retrievals: RecordingEntry[] = [];
  readonly #deletions: Deletion[] = [];
  readonly #calls: BackendCall[] = [];

  /** Records a call. */
  call(call: BackendCall): void {
    this.#calls.push(call);
  }

  /** Starts the record of a `get`, for {@linkcode recordingStream}. */
  retrieval(mbox: string, msgId: number, uid: string): RecordingEntry {
    const entry: RecordingEntry = {
      mbox,
      msgId,
      uid,
      octets: 0,
      status: "open",
    };
    this.#retrievals.push(entry);
    return entry;
  }

  /** Records deleted messages. */
  deleted(...gone: Deletion[]): void {
    this.#deletions.push(...gone);
  }

  /** Copies of the retrievals, optionally of one maildrop. */
  retrievals(mbox?: string): Retrieval[] {
    return this.#retrievals
      .filter((r) => mbox === undefined || r.mbox === mbox)
      .map((r) => ({ ...r }));
  }

  /** Unique ids of the messages read to their end, each once, in order. */
  retrieved(mbox: string): string[] {
    const uids = this.#retrievals
      .filter((r) => r.mbox === mbox && r.status === "complete")
      .map((r) => r.uid);
    return [...new Set(uids)];
  }

  /** The deletions, optionally of one maildrop. */
  deletions(mbox?: string): Deletion[] {
    return this.#deletions.filter((d) => mbox === undefined || d.mbox === mbox);
  }

  /** A copy of the call log. */
  calls(): BackendCall[] {
    return [...this.#calls];
  }
}
