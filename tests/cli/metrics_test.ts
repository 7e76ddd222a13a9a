import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Metrics } from "../../src/cli/metrics.ts";

describe("Metrics", () => {
  it('counts verbs a client makes up as "other", so clients cannot add series', () => {
    const m = new Metrics();
    for (const verb of ["XYZZY1", "XYZZY2", "RETR"]) {
      m.event({
        type: "command",
        id: 1,
        remote: "::1",
        verb,
        ok: false,
        durationMs: 0,
      });
    }
    const text = m.render();
    assert.match(
      text,
      /^pop3d_commands_total\{verb="other",result="err"\} 2$/m,
    );
    assert.match(text, /^pop3d_commands_total\{verb="RETR",result="err"\} 1$/m);
    assert.ok(!text.includes("XYZZY"));
  });

  it('moves a connection to tls="true" after STLS and drops it at close', () => {
    const m = new Metrics();
    m.event({ type: "open", id: 1, remote: "::1", encrypted: false });
    m.event({
      type: "command",
      id: 1,
      remote: "::1",
      verb: "STLS",
      ok: true,
      durationMs: 0,
    });
    assert.match(m.render(), /^pop3d_connections_active\{tls="true"\} 1$/m);
    assert.match(m.render(), /^pop3d_connections_total\{tls="false"\} 1$/m);
    m.event({
      type: "close",
      id: 1,
      remote: "::1",
      reason: "quit",
      bytesIn: 1,
      bytesOut: 1,
      durationMs: 1,
    });
    assert.match(m.render(), /^pop3d_connections_active\{tls="true"\} 0$/m);
  });

  it("exports the addresses under an auth penalty and the evicted connections", () => {
    const stats = {
      connections: 0,
      connectionsTotal: 0,
      connectionsRefused: 0,
      sessions: 0,
      loginsOk: 0,
      loginsFailed: 0,
      messagesSent: 0,
      messagesDeleted: 0,
      bytesIn: 0,
      bytesOut: 0,
      errors: 0,
      connectionsEvicted: 3,
      authPenalties: 4,
    };
    const text = new Metrics().render(stats);
    assert.match(text, /^pop3d_auth_penalty_addresses 4$/m);
    assert.match(text, /^pop3d_connections_evicted_total 3$/m);
  });
});
