import { test } from "node:test";
import { listenNode } from "../../src/transport/node.ts";
import { skipUnless } from "../_helpers/runtime.ts";
import { pipelinedHalfClose, smokeTranscript } from "../_helpers/smoke.ts";

test("listenNode serves a POP3 transcript on 127.0.0.1:0", {
  skip: skipUnless("node"),
}, async () => {
  await smokeTranscript(listenNode);
});

test("listenNode answers a pipelined session sent with a half-close", {
  skip: skipUnless("node"),
}, async () => {
  await pipelinedHalfClose(listenNode);
});
