import assert from "node:assert/strict";
import * as net from "node:net";
import { test } from "node:test";
import {
  listenDeno,
  MAX_READ,
  MIN_READ,
  nextReadSize,
} from "../../src/transport/deno.ts";
import { skipUnless } from "../_helpers/runtime.ts";
import { pipelinedHalfClose, smokeTranscript } from "../_helpers/smoke.ts";

test("listenDeno serves a POP3 transcript on 127.0.0.1:0", {
  skip: skipUnless("deno"),
}, async () => {
  await smokeTranscript(listenDeno);
});

test("listenDeno answers a pipelined session sent with a half-close", {
  skip: skipUnless("deno"),
}, async () => {
  await pipelinedHalfClose(listenDeno);
});

test("listenDeno reads at most MAX_READ bytes per chunk, losing no byte", {
  skip: skipUnless("deno"),
}, async () => {
  const listener = listenDeno({ hostname: "127.0.0.1", port: 0 });
  const client = net.connect({ host: "127.0.0.1", port: listener.addr.port });
  try {
    const accepted = await listener[Symbol.asyncIterator]().next();
    assert.ok(!accepted.done);
    const sent = new Uint8Array(300_000).map((_, i) => i % 251);
    client.end(sent);
    const chunks: Uint8Array[] = [];
    for await (const chunk of accepted.value.readable) chunks.push(chunk);
    accepted.value.close();
    assert.ok(chunks.every((c) => c.length <= MAX_READ), "a chunk too big");
    const got = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    chunks.reduce((at, c) => (got.set(c, at), at + c.length), 0);
    assert.deepEqual(got, sent);
  } finally {
    client.destroy();
    listener.close();
  }
});

test(
  "listenDeno reads MIN_READ bytes after a short read, so an idle read holds little",
  {
    skip: skipUnless("deno"),
  },
  async () => {
    const listener = listenDeno({ hostname: "127.0.0.1", port: 0 });
    const client = net.connect({ host: "127.0.0.1", port: listener.addr.port });
    try {
      const accepted = await listener[Symbol.asyncIterator]().next();
      assert.ok(!accepted.done);
      const reader = accepted.value.readable.getReader();
      client.write("NOOP\r\n");
      assert.equal((await reader.read()).value?.length, 6);
      // The read after a command line holds a small buffer even when much
      // more arrives: the chunk it yields is at most MIN_READ bytes.
      const pending = reader.read();
      client.write(new Uint8Array(100_000));
      const { value } = await pending;
      assert.ok(value && value.length > 0 && value.length <= MIN_READ);
      assert.equal(value.buffer.byteLength, MIN_READ);
      reader.releaseLock();
      accepted.value.close();
    } finally {
      client.destroy();
      listener.close();
    }
  },
);

test("nextReadSize doubles after a full read up to MAX_READ and falls back after a short one", () => {
  assert.equal(nextReadSize(MIN_READ, MIN_READ), 2 * MIN_READ);
  assert.equal(nextReadSize(MAX_READ, MAX_READ), MAX_READ);
  assert.equal(nextReadSize(MAX_READ, MAX_READ - 1), MIN_READ);
  assert.equal(nextReadSize(4096, 6), MIN_READ);
});
