import { test } from "node:test";
import { listenDeno } from "../../src/transport/deno.ts";
import { skipUnless } from "../_helpers/runtime.ts";
import { smokeTranscript } from "../_helpers/smoke.ts";

test("listenDeno serves a POP3 transcript on 127.0.0.1:0", {
  skip: skipUnless("deno"),
}, async () => {
  await smokeTranscript(listenDeno);
});
