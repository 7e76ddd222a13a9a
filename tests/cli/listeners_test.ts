import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { ListenError, multiSocket } from "../../src/cli/listeners.ts";

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

describe("multiSocket", () => {
  it("accepts on every endpoint through one listener, and closes them all", async () => {
    const bound: number[] = [];
    const listener = await multiSocket(
      [
        { proto: "pop3", hostname: "127.0.0.1", port: 0 },
        { proto: "pop3", hostname: "::1", port: 0 },
      ],
      undefined,
      (_, port) => bound.push(port),
    )({ hostname: "x", port: 0 });
    const seen: string[] = [];
    const accepting = (async () => {
      for await (const conn of listener) {
        seen.push(conn.remoteAddr.hostname);
        conn.close();
        if (seen.length === 2) break;
      }
    })();
    assert.ok(await connects("127.0.0.1", bound[0]));
    assert.ok(await connects("::1", bound[1]));
    await accepting;
    assert.deepEqual(seen.sort(), ["127.0.0.1", "::1"]);
    await listener.close();
    assert.equal(await connects("127.0.0.1", bound[0]), false);
  });

  it("closes what it opened and names the flag when a later endpoint cannot be bound", async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as net.AddressInfo).port;
    const bound: number[] = [];
    try {
      await assert.rejects(
        Promise.resolve(
          multiSocket(
            [
              { proto: "pop3", hostname: "127.0.0.1", port: 0 },
              { proto: "pop3", hostname: "127.0.0.1", port },
            ],
            undefined,
            (_, p) => bound.push(p),
          )({ hostname: "x", port: 0 }),
        ),
        (error: unknown) =>
          error instanceof ListenError &&
          error.message ===
            `Cannot listen on 127.0.0.1:${port} (--port): the address is already in use`,
      );
      assert.equal(bound.length, 1);
      assert.equal(await connects("127.0.0.1", bound[0]), false);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});

describe("ListenError", () => {
  it("says what a missing privilege means, on each runtime's error shape", () => {
    const endpoint = { proto: "pop3s" as const, hostname: "::", port: 995 };
    for (
      const cause of [
        Object.assign(new Error("listen EACCES: permission denied"), {
          code: "EACCES",
        }),
        Object.assign(new Error("Permission denied (os error 13)"), {
          name: "PermissionDenied",
        }),
      ]
    ) {
      assert.equal(
        new ListenError(endpoint, "--tls-port", cause).message,
        "Cannot listen on [::]:995 (--tls-port): permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
      );
    }
  });
});
