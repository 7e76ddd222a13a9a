import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { byteChunks } from "../../src/_util/chunks.ts";

function source(chunks: unknown[]): {
  stream: ReadableStream<Uint8Array>;
  cancelled: () => boolean;
} {
  let cancelled = false;
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++] as Uint8Array);
      else controller.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, cancelled: () => cancelled };
}

describe("byteChunks", () => {
  it("byteChunks yields every chunk and releases the lock at the end", async () => {
    const { stream, cancelled } = source([
      new Uint8Array([1, 2]),
      new Uint8Array([3]),
    ]);
    const seen: number[] = [];
    for await (const chunk of byteChunks(stream, "bad")) seen.push(...chunk);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(stream.locked, false);
    assert.equal(cancelled(), false);
  });

  it("byteChunks throws the given TypeError for a chunk that is not bytes, and cancels", async () => {
    const { stream, cancelled } = source([
      new Uint8Array([1]),
      "text",
      new Uint8Array([2]),
      new Uint8Array([3]),
    ]);
    await assert.rejects(
      async () => {
        for await (const _ of byteChunks(stream, "not bytes")) { /* read */ }
      },
      { name: "TypeError", message: "not bytes" },
    );
    assert.equal(cancelled(), true);
  });

  it("byteChunks cancels the stream when the caller's loop throws", async () => {
    const { stream, cancelled } = source([
      new Uint8Array([1]),
      new Uint8Array([2]),
      new Uint8Array([3]),
    ]);
    await assert.rejects(async () => {
      for await (const _ of byteChunks(stream, "bad")) throw new Error("stop");
    }, /stop/);
    assert.equal(cancelled(), true);
  });
});
