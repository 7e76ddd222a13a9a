import { it } from "node:test";
import assert from "node:assert/strict";
import { MemoryAuth, Pop3d, type Pop3dStorage } from "../../mod.ts";
import { pop3Connect } from "../_helpers/net_client.ts";

it("Pop3d destroy('kill') does not wait for a callback that never settles, and unlocks once", async () => {
  let unlocks = 0;
  let getCalls = 0;
  const storage: Pop3dStorage<string> = {
    lock: () => true,
    unlock: () => void unlocks++,
    stat: () => 1,
    size: () => 10,
    get: () => {
      getCalls++;
      return new Promise<string>(() => {}); // never settles
    },
    dele: () => {
      throw new Error("dele must not run");
    },
  };
  const server = new Pop3d<string>({
    port: 0,
    hostname: "127.0.0.1",
    auth: new MemoryAuth().addUser("alice", "pw"),
    storage,
    callbackTimeout: 60_000,
    authFailureDelay: 0,
    authPenalty: false,
  });
  await server.up();
  const c = await pop3Connect(server.cget("port") as number);
  await c.cmd("USER alice");
  assert.match(await c.cmd("PASS pw"), /^\+OK/);
  await c.write("RETR 1\r\n");
  while (getCalls === 0) await new Promise((r) => setTimeout(r, 5));
  const started = Date.now();
  await server.destroy("kill");
  const took = Date.now() - started;
  assert.ok(took < 5000, `destroy took ${took} ms`);
  assert.equal(unlocks, 1);
  await c.closed();
  assert.equal(server.conn.list().length, 0);
});
