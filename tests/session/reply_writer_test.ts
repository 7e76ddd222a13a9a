import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ReplyWriter } from "../../src/session/reply_writer.ts";
import type { SessionObserver } from "../../src/session/config.ts";

function observer(
  lines: string[] = [],
  counts: number[] = [],
): SessionObserver {
  return {
    wantsCommands: false,
    wantsTranscript: true,
    event: () => {},
    error: () => {},
    transcript: (_id, from, line) => void lines.push(`${from} ${line}`),
    count: (_counter, n) => void counts.push(n),
  };
}

function sink(delayMs = 0) {
  const writes: number[] = [];
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      writes.push(chunk.length);
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    },
  });
  return { writes, writer: stream.getWriter() };
}

describe("ReplyWriter", () => {
  it("ReplyWriter joins many small replies into one write and logs each line", async () => {
    const lines: string[] = [];
    const out = new ReplyWriter(1, observer(lines), () => {});
    const { writes, writer } = sink();
    out.attach(writer);
    for (let i = 0; i < 100; i++) out.send("+OK\r\n");
    assert.equal(out.queued, 500);
    await out.flush();
    assert.deepEqual(writes, [500]);
    assert.equal(out.bytesOut, 500);
    assert.equal(lines.length, 100);
    assert.equal(lines[0], "S +OK");
  });

  it("ReplyWriter writes a large part in 32 KiB pieces and marks progress after each", async () => {
    const counts: number[] = [];
    let started = 0;
    const out = new ReplyWriter(1, observer([], counts), () => started++);
    const { writes, writer } = sink(5);
    out.attach(writer);
    out.push(new Uint8Array(100 * 1024));
    const flushing = out.flush();
    assert.equal(started, 1);
    assert.ok(out.stalledSince > 0, "a write is pending");
    await flushing;
    assert.deepEqual(writes, [32768, 32768, 32768, 4096]);
    assert.deepEqual(counts, writes);
    assert.equal(out.stalledSince, 0);
  });

  it("ReplyWriter drops the queue when no connection is attached (after a failed STLS)", async () => {
    const out = new ReplyWriter(1, observer(), () => {});
    out.send("+OK\r\n");
    await out.flush();
    assert.equal(out.queued, 0);
    assert.equal(out.bytesOut, 0);
  });
});
