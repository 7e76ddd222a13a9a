import assert from "node:assert/strict";
import * as net from "node:net";
import { test } from "node:test";
import { listenDeno } from "../../src/transport/deno.ts";
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

test("listenDeno reads in small BYOB chunks (8 KiB), losing no byte", {
  skip: skipUnless("deno"),
}, async () => {
  const listener = listenDeno({ hostname: "127.0.0.1", port: 0 });
  const client = net.connect({ host: "127.0.0.1", port: listener.addr.port });
  try {
    const accepted = await listener[Symbol.asyncIterator]().next();
    assert.ok(!accepted.done);
    const sent = new Uint8Array(100_000).map((_, i) => i % 251);
    client.end(sent);
    const chunks: Uint8Array[] = [];
    for await (const chunk of accepted.value.readable) chunks.push(chunk);
    accepted.value.close();
    assert.ok(chunks.every((c) => c.length <= 8192), "a chunk over 8 KiB");
    const got = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    chunks.reduce((at, c) => (got.set(c, at), at + c.length), 0);
    assert.deepEqual(got, sent);
  } finally {
    client.destroy();
    listener.close();
  }
});
