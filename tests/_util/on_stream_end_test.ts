import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { onStreamEnd } from "../../src/_util/on_stream_end.ts";
import { readInto, withReadInto } from "../../src/_util/read_into.ts";

/** A byte stream of `total` octets (i & 0xff), filling each request's view. */
function byteSource(total: number): {
  stream: ReadableStream<Uint8Array>;
  views: number[];
} {
  let at = 0;
  const views: number[] = [];
  const stream = new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: 1000,
    pull(controller) {
      const request = controller.byobRequest!;
      const view = request.view as Uint8Array;
      views.push(view.length);
      const n = Math.min(view.length, total - at);
      if (n === 0) {
        controller.close();
        request.respond(0);
        return;
      }
      for (let i = 0; i < n; i++) view[i] = (at + i) & 0xff;
      at += n;
      request.respond(n);
    },
  });
  return { stream, views };
}

function check(bytes: Uint8Array, from: number): void {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== ((from + i) & 0xff)) {
      assert.fail(`octet ${from + i} is ${bytes[i]}`);
    }
  }
}

describe("onStreamEnd", () => {
  it("onStreamEnd passes a ReadInto on and runs onEnd once when it reads the end, before it says so", async () => {
    const source = byteSource(10_000);
    let at = 0;
    const inner = withReadInto(source.stream, (view) => {
      const n = Math.min(view.length, 10_000 - at);
      for (let i = 0; i < n; i++) view[i] = (at + i) & 0xff;
      at += n;
      return Promise.resolve(n);
    });
    const events: string[] = [];
    const stream = onStreamEnd(inner, () => {
      events.push("onEnd");
    });
    const read = readInto(stream);
    assert.ok(read !== undefined, "the wrapper reads straight into memory too");
    const view = new Uint8Array(new WebAssembly.Memory({ initial: 1 }).buffer)
      .subarray(0, 4096);
    let got = 0;
    for (;;) {
      const n = await read(view);
      events.push(`read ${n}`);
      if (n === 0) break;
      check(view.subarray(0, n), got);
      got += n;
    }
    assert.equal(got, 10_000);
    assert.deepEqual(events, [
      "read 4096",
      "read 4096",
      "read 1808",
      "onEnd",
      "read 0",
    ]);
    assert.equal(await read(view), 0);
    assert.equal(events.length, 5, "onEnd once");
    assert.deepEqual(source.views, [], "the inner stream's pull unused");
    // A stream without one gets a wrapper without one.
    assert.equal(
      readInto(onStreamEnd(byteSource(10).stream, () => {})),
      undefined,
    );
  });

  it("onStreamEnd hands a BYOB reader's buffer on to the stream and runs onEnd before the end", async () => {
    const source = byteSource(10_000);
    const events: string[] = [];
    const stream = onStreamEnd(source.stream, () => {
      events.push("onEnd");
    });
    const reader = stream.getReader({ mode: "byob" });
    let buffer = new ArrayBuffer(4096);
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(buffer));
      if (done) break;
      events.push("chunk");
      // Our buffer came back, filled in place.
      assert.equal(value.buffer.byteLength, 4096);
      check(value, got);
      got += value.length;
      buffer = value.buffer as ArrayBuffer;
    }
    events.push("done");
    assert.equal(got, 10_000);
    // The source was asked to fill our 4 KiB views, not views of its own.
    assert.deepEqual(source.views.slice(0, 3), [4096, 4096, 4096]);
    assert.deepEqual(events.slice(-3), ["chunk", "onEnd", "done"]);
  });

  it("onStreamEnd serves a default reader of a byte stream and of a default stream", async () => {
    const byte = byteSource(2500);
    let ended = 0;
    const a = new Uint8Array(
      await new Response(onStreamEnd(byte.stream, () => void ended++))
        .arrayBuffer(),
    );
    check(a, 0);
    assert.equal(a.length, 2500);
    const plain = new Blob([a]).stream(); // a default stream
    const b = new Uint8Array(
      await new Response(onStreamEnd(plain, () => void ended++)).arrayBuffer(),
    );
    assert.deepEqual(b, a);
    assert.equal(ended, 2);
  });

  it("onStreamEnd does not run onEnd for a stream read in part and cancelled", async () => {
    const source = byteSource(10_000);
    let ended = false;
    const stream = onStreamEnd(source.stream, () => {
      ended = true;
    });
    const reader = stream.getReader({ mode: "byob" });
    const { value } = await reader.read(new Uint8Array(1024));
    check(value!, 0);
    await reader.cancel();
    assert.equal(ended, false);
  });
});
