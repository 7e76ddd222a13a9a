import { test } from "node:test";
import { listenBun } from "../../src/transport/bun.ts";
import { skipUnless } from "../_helpers/runtime.ts";
import { pipelinedHalfClose, smokeTranscript } from "../_helpers/smoke.ts";

test("listenBun serves a POP3 transcript on 127.0.0.1:0", {
  skip: skipUnless("bun"),
}, async () => {
  await smokeTranscript(listenBun);
});

test("listenBun answers a pipelined session sent with a half-close", {
  skip: skipUnless("bun"),
}, async () => {
  await pipelinedHalfClose(listenBun);
});
