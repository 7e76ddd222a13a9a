import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { Pop3d } from "../../src/server/pop3d.ts";
import type { Pop3dAuth } from "../../src/auth/types.ts";
import { md5Hex } from "../../src/_util/md5.ts";
import {
  delay,
  fixture,
  LineClient,
  MemoryListener,
  PASSWORD,
  startSession,
} from "../_helpers/hardening_pair.ts";

/** Wraps an auth object and records every call by method name. */
function recordingAuth(inner: Pop3dAuth<string>) {
  const calls: string[] = [];
  const auth: Pop3dAuth<string> = {
    exists(name) {
      calls.push("exists");
      return inner.exists(name);
    },
    lookup(name) {
      calls.push("lookup");
      return inner.lookup(name);
    },
  };
  return { auth, calls };
}

async function attempt(
  auth: Pop3dAuth<string>,
  lines: (timestamp: string) => string[],
) {
  const f = fixture();
  const events: unknown[] = [];
  const errors: unknown[] = [];
  const { client, done } = startSession({
    auth,
    storage: f.storage,
    onEvent: (e) => events.push(e),
    onError: (e) => errors.push(e),
  });
  const greeting = await client.line() ?? "";
  const timestamp = /<[^>]+>/.exec(greeting)?.[0] ?? "";
  const replies: (string | null)[] = [];
  for (const line of lines(timestamp)) replies.push(await client.cmd(line));
  await client.cmd("QUIT");
  await done;
  const failed = events.filter((e) =>
    (e as { type: string }).type === "login-failed"
  ).map((e) => ({ ...e as object, id: 0 }));
  return { replies, failed, errors, storage: f };
}

describe("Pop3Session user enumeration", () => {
  it("Pop3Session takes the same path for an unknown user and a wrong password (USER/PASS)", async () => {
    const unknown = recordingAuth(fixture().auth);
    const wrong = recordingAuth(fixture().auth);
    const a = await attempt(unknown.auth, () => ["USER mallory", "PASS guess"]);
    const b = await attempt(wrong.auth, () => ["USER alice", "PASS guess"]);
    assert.deepEqual(a.replies, b.replies);
    assert.deepEqual(a.replies.at(-1), "-ERR [AUTH] Authentication failed");
    assert.deepEqual(unknown.calls, wrong.calls);
    assert.deepEqual(
      a.failed,
      b.failed.map((e) => ({ ...e, user: "mallory" })),
    );
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  });

  it("Pop3Session takes the same path for an unknown user and a wrong digest (APOP)", async () => {
    const unknown = recordingAuth(fixture().auth);
    const wrong = recordingAuth(fixture().auth);
    const apop = (user: string) => (ts: string) => [
      `APOP ${user} ${md5Hex(ts + "guess")}`,
    ];
    const a = await attempt(unknown.auth, apop("mallory"));
    const b = await attempt(wrong.auth, apop("alice"));
    assert.deepEqual(a.replies, b.replies);
    assert.deepEqual(a.replies[0], "-ERR [AUTH] Authentication failed");
    assert.deepEqual(unknown.calls, wrong.calls);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  });

  it("Pop3Session takes the same path for an unknown user and a wrong password (AUTH PLAIN)", async () => {
    const unknown = recordingAuth(fixture().auth);
    const wrong = recordingAuth(fixture().auth);
    const plain = (user: string) => () => [
      `AUTH PLAIN ${btoa(`\0${user}\0guess`)}`,
    ];
    const a = await attempt(unknown.auth, plain("mallory"));
    const b = await attempt(wrong.auth, plain("alice"));
    assert.deepEqual(a.replies, b.replies);
    assert.match(a.replies[0] ?? "", /^-ERR \[AUTH\]/);
    assert.deepEqual(unknown.calls, wrong.calls);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  });

  it("Pop3Session still logs in with the right password and APOP digest", async () => {
    const ok = recordingAuth(fixture().auth);
    const a = await attempt(ok.auth, () => ["USER alice", "PASS " + PASSWORD]);
    assert.match(a.replies[1] ?? "", /^\+OK alice has 3 messages/);
    const b = await attempt(
      ok.auth,
      (ts) => [`APOP alice ${md5Hex(ts + PASSWORD)}`],
    );
    assert.match(b.replies[0] ?? "", /^\+OK alice has 3 messages/);
  });
});

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = `${dir}/${name}`;
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (path.endsWith(".ts")) out.push(path);
  }
  return out;
}

describe("Secret comparisons", () => {
  it("src compares passwords and digests only with timingSafeEqual", () => {
    const root = new URL("../../src", import.meta.url).pathname;
    const secret = /password|expected|digest|secret|proof|storedkey/i;
    const offenders: string[] = [];
    for (const file of sourceFiles(root)) {
      const lines = readFileSync(file, "utf8").split("\n");
      lines.forEach((line, i) => {
        if (/^\s*(\*|\/\/)/.test(line) || line.includes("typeof")) return;
        for (
          const m of line.matchAll(
            /([\w.#]+)\s*[!=]==?\s*([\w.#"'`-]+)/g,
          )
        ) {
          const [, left, right] = m;
          const literal = (s: string) =>
            /^["'`]|^(undefined|null|true|false|\d+)$/.test(s);
          if (literal(left) || literal(right)) continue;
          // Lengths of secrets are public; their bytes are not.
          const isSecret = (x: string) =>
            secret.test(x) && !/\.(length|byteLength)$/.test(x);
          if (isSecret(left) || isSecret(right)) {
            offenders.push(
              `${file.slice(root.length)}:${i + 1}: ${line.trim()}`,
            );
          }
        }
      });
    }
    assert.deepEqual(offenders, []);
    const session = readFileSync(`${root}/session/authorization.ts`, "utf8");
    assert.ok(
      (session.match(/timingSafeEqual\(/g) ?? []).length >= 2,
      "PASS and APOP use timingSafeEqual",
    );
  });
});

/** Every string reachable from a value: properties, messages, stacks, causes. */
function strings(value: unknown, seen = new Set<unknown>()): string[] {
  if (typeof value === "string") return [value];
  if (value === null || typeof value !== "object") return [String(value)];
  if (seen.has(value)) return [];
  seen.add(value);
  const out: string[] = [];
  if (value instanceof Error) {
    out.push(value.message, value.stack ?? "", String(value));
    out.push(...strings(value.cause, seen));
  }
  for (const key of Object.getOwnPropertyNames(value)) {
    out.push(key, ...strings((value as Record<string, unknown>)[key], seen));
  }
  return out;
}

describe("Password secrecy", () => {
  it("Pop3d never puts a password in events, errors, conn.state or replies", async () => {
    const wrongPassword = "Wr0ng-Guess-91c2e";
    const longPassword = "L0ng-" + "p".repeat(300);
    const f = fixture();
    const inner = f.auth;
    const auth: Pop3dAuth<string> = {
      exists: (name) =>
        name === "slow"
          ? new Promise(() => {})
          : name === "broken" || inner.exists(name),
      lookup: (name) =>
        name === "broken"
          ? [42, "broken"] as unknown as [string, string]
          : inner.lookup(name),
    };
    const captured: unknown[] = [];
    const listener = new MemoryListener();
    const server = new Pop3d({
      auth,
      storage: f.storage,
      socket: () => listener,
      callbackTimeout: 50,
      authFailureDelay: 0,
      authPenalty: false,
      onEvent: (e) => captured.push(e),
      onError: (e) => captured.push(e),
    });
    await server.up();
    const poll = setInterval(() => {
      for (const id of server.conn.list()) {
        try {
          captured.push(server.conn.state(id));
        } catch {
          // Gone between list() and state().
        }
      }
    }, 1);
    const replies: string[] = [];
    async function run(lines: string[], drop = false) {
      const c = new LineClient(listener.connect());
      replies.push(await c.line() ?? "");
      for (const line of lines) {
        replies.push(await c.cmd(line) ?? "");
        for (const id of server.conn.list()) {
          captured.push(server.conn.state(id));
        }
        await delay(2);
      }
      if (drop) c.drop();
      else replies.push(await c.cmd("QUIT") ?? "");
      await c.closed;
    }
    await run(["USER alice", "PASS " + wrongPassword]);
    await run(["USER alice", "PASS " + PASSWORD, "STAT", "LIST"]);
    await run(["USER broken", "PASS " + PASSWORD]);
    await run(["USER slow", "PASS " + PASSWORD]);
    await run(["USER alice", "PASS " + longPassword]);
    await run(["USER alice", "PASS " + PASSWORD + "\0"]);
    await run([PASSWORD, "PASS" + PASSWORD, "USER alice"]);
    await run(["USER alice", `APOP alice ${md5Hex("<x>" + PASSWORD)}`]);
    await run(["USER alice", "PASS " + PASSWORD], true);
    clearInterval(poll);
    await server.destroy("kill");
    // The scenarios ran: errors from "broken" and "slow" were captured.
    assert.ok(captured.some((e) => e instanceof TypeError));
    assert.ok(
      captured.some((e) =>
        e instanceof Error && /auth\.exists/.test(e.message)
      ),
    );
    const all = [...strings(captured), ...replies].join("\n");
    for (const secret of [PASSWORD, wrongPassword, longPassword.slice(0, 40)]) {
      assert.equal(all.includes(secret), false, `found "${secret}"`);
    }
  });
});
