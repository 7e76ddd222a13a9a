import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseOptions, serverCpuMsPerSession } from "../../bench/real_path.ts";

describe("real_path parseOptions", () => {
  it("parseOptions defaults to the whole matrix", () => {
    const o = parseOptions([]);
    assert.deepEqual(o.storages, ["memory", "maildir", "postgres"]);
    assert.deepEqual(o.modes, ["plain", "stls", "tls"]);
    assert.deepEqual(o.runtimes, ["deno", "bun", "node"]);
    assert.deepEqual(o.parts, ["sessions", "bulk", "handshakes", "idle"]);
    assert.equal(o.rounds, 3);
    assert.equal(o.quick, false);
  });

  it("parseOptions --quick shortens the run and later options override it", () => {
    const o = parseOptions(["--quick", "--rounds", "2"]);
    assert.equal(o.quick, true);
    assert.equal(o.rounds, 2);
    assert.equal(o.duration, 2);
    assert.equal(o.idle, 200);
  });

  it("parseOptions selects rows by storage, mode, runtime and name", () => {
    const o = parseOptions([
      "--storages",
      "maildir",
      "--modes",
      "plain,tls",
      "--runtimes",
      "bun",
      "--only",
      "ours-bun-maildir-tls",
    ]);
    assert.deepEqual(o.storages, ["maildir"]);
    assert.deepEqual(o.modes, ["plain", "tls"]);
    assert.deepEqual(o.runtimes, ["bun"]);
    assert.deepEqual(o.only, ["ours-bun-maildir-tls"]);
  });

  it("parseOptions rejects unknown values, options and an idle count above the users", () => {
    assert.throws(() => parseOptions(["--storages", "mbox"]), TypeError);
    assert.throws(() => parseOptions(["--modes", "ssl"]), /plain, stls, tls/);
    assert.throws(() => parseOptions(["--colour", "red"]), TypeError);
    assert.throws(() => parseOptions(["--rounds"]), TypeError);
    assert.throws(() => parseOptions(["--rounds", "-1"]), RangeError);
    assert.throws(
      () => parseOptions(["--idle", "500", "--nusers", "100"]),
      /must not exceed "--nusers"/,
    );
  });
  it("serverCpuMsPerSession is the server's CPU share over the rate, in ms", () => {
    assert.equal(
      serverCpuMsPerSession({ server_cpu_pct: 130, sessions_per_s: 800 }),
      1.625,
    );
    assert.ok(Number.isNaN(serverCpuMsPerSession({ sessions_per_s: 800 })));
    assert.ok(
      Number.isNaN(
        serverCpuMsPerSession({ server_cpu_pct: 130, sessions_per_s: 0 }),
      ),
    );
    assert.ok(Number.isNaN(serverCpuMsPerSession({ error: "driver failed" })));
  });
});
