/**
 * SASL (RFC 5034) end to end over real TCP on the host's default socket:
 * curl --login-options AUTH=..., python3 poplib's raw commands, and a
 * SCRAM-SHA-256 client written here with node:crypto.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type { Pop3dAuth } from "../../src/auth/types.ts";
import { MemoryAuth } from "../../src/auth/memory_auth.ts";
import type { LoginMethod } from "../../src/server/events.ts";
import type { Pop3dOptions } from "../../src/server/options.ts";
import { Pop3d } from "../../src/server/pop3d.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { defaultSocket } from "../../src/transport/default_socket.ts";
import { pop3Connect } from "../_helpers/net_client.ts";
import { available, python, run, RUNTIME } from "../_helpers/tls.ts";
import { latin1, MESSAGE, utf8 } from "../_helpers/tls_fixture.ts";

async function missingPrerequisite(): Promise<string | undefined> {
  if (!(await available("curl", ["--version"]))) return "curl is needed";
  if (!(await available("python3", ["--version"]))) return "python3 is needed";
  try {
    const listener = await defaultSocket({ hostname: "127.0.0.1", port: 0 });
    await listener.close();
  } catch (error) {
    return (error as Error).message;
  }
}

const missing = await missingPrerequisite();
if (missing) console.log(`skipping SASL wire tests on ${RUNTIME}: ${missing}`);

const TOKEN = "ya29." + "A".repeat(2000) + "-x_y";

interface Fixture {
  server: Pop3d<string>;
  port: number;
  logins: { user: string; method: LoginMethod }[];
  tokens: string[];
}

async function serve(
  auth: Pop3dAuth<string>,
  options: Pop3dOptions<string> = {},
): Promise<Fixture> {
  const storage = new MemoryStorage();
  storage.deliver("alice", MESSAGE);
  const logins: Fixture["logins"] = [];
  const server = new Pop3d<string>({
    hostname: "127.0.0.1",
    port: 0,
    auth,
    storage,
    authFailureDelay: 0,
    authPenalty: false,
    onEvent: (event) => {
      if (event.type === "login") {
        logins.push({ user: event.user, method: event.method });
      }
    },
    ...options,
  });
  await server.up();
  return { server, port: server.cget("port") as number, logins, tokens: [] };
}

/** python3 poplib with raw commands. argv: port, JSON list of [kind, line]. */
const POPLIB_RAW = `
import json, poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
out = []
for kind, line in json.loads(sys.argv[2]):
    try:
        if kind == "short":
            out.append(p._shortcmd(line).decode("latin-1"))
        elif kind == "long":
            resp, lines, _ = p._longcmd(line)
            out.append([resp.decode("latin-1")] + [l.decode("latin-1") for l in lines])
        elif kind == "putline":
            p._putcmd(line)
            out.append(p._getline()[0].decode("latin-1"))
    except poplib.error_proto as e:
        out.append(e.args[0].decode("latin-1"))
print(json.dumps(out))
`;

function poplib(port: number, steps: [string, string][]): Promise<unknown[]> {
  return python(POPLIB_RAW, [String(port), JSON.stringify(steps)]) as Promise<
    unknown[]
  >;
}

function b64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

function hmac(key: Uint8Array, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

function xor(a: Uint8Array, b: Uint8Array): Buffer {
  return Buffer.from(a.map((x, i) => x ^ b[i]));
}

(missing ? describe.skip : describe)(`SASL over the wire on ${RUNTIME}`, () => {
  let fx: Fixture;

  before(async () => {
    const auth = new MemoryAuth().addUser("alice", "secret");
    const tokens: string[] = [];
    const withTokens = Object.assign(auth, {
      verifyToken(name: string, token: string, mechanism: string): boolean {
        tokens.push(`${mechanism}:${name}:${token.length}`);
        return name === "alice" && token === TOKEN;
      },
    });
    fx = await serve(withTokens);
    fx.tokens = tokens;
  });

  after(() => fx.server.destroy());

  for (const mech of ["PLAIN", "LOGIN", "CRAM-MD5"]) {
    it(`curl --login-options AUTH=${mech} downloads byte-exact`, async () => {
      const result = await run("curl", [
        "-sS",
        "--login-options",
        `AUTH=${mech}`,
        `pop3://alice:secret@127.0.0.1:${fx.port}/1`,
      ]); // deno-fmt-ignore
      assert.equal(result.code, 0, result.stderr);
      assert.equal(latin1(result.stdout), latin1(utf8(MESSAGE)));
      assert.deepEqual(fx.logins.at(-1), {
        user: "alice",
        method: `SASL ${mech}`,
      });
    });

    it(`curl --login-options AUTH=${mech} with a wrong password is denied`, async () => {
      const count = fx.logins.length;
      const result = await run("curl", [
        "-sS",
        "--login-options",
        `AUTH=${mech}`,
        `pop3://alice:wrong@127.0.0.1:${fx.port}/1`,
      ]); // deno-fmt-ignore
      assert.notEqual(result.code, 0);
      assert.equal(fx.logins.length, count);
    });
  }

  it("SCRAM-SHA-256: a node:crypto client runs the whole exchange, final empty response included", async () => {
    const client = await pop3Connect(fx.port);
    try {
      assert.match(client.greetingLine, /^\+OK /);
      const nonce = randomBytes(18).toString("base64");
      const bare = `n=alice,r=${nonce}`;
      const first = await client.cmd(`AUTH SCRAM-SHA-256 ${b64("n,," + bare)}`);
      assert.match(first, /^\+ /);
      const serverFirst = Buffer.from(first.slice(2), "base64").toString();
      const attrs = Object.fromEntries(
        serverFirst.split(",").map((a) => [a[0], a.slice(2)]),
      );
      assert.ok(attrs.r.startsWith(nonce) && attrs.r.length > nonce.length);
      const salted = pbkdf2Sync(
        "secret",
        Buffer.from(attrs.s, "base64"),
        Number(attrs.i),
        32,
        "sha256",
      );
      const clientKey = hmac(salted, "Client Key");
      const storedKey = createHash("sha256").update(clientKey).digest();
      const finalBare = `c=biws,r=${attrs.r}`;
      const authMessage = `${bare},${serverFirst},${finalBare}`;
      const proof = xor(clientKey, hmac(storedKey, authMessage)).toString(
        "base64",
      );
      const second = await client.cmd(b64(`${finalBare},p=${proof}`));
      assert.match(second, /^\+ /, second);
      const serverFinal = Buffer.from(second.slice(2), "base64").toString();
      const serverSignature = hmac(hmac(salted, "Server Key"), authMessage)
        .toString("base64");
      assert.equal(
        serverFinal,
        `v=${serverSignature}`,
        "the server proves it knows the password",
      );
      assert.match(await client.cmd(""), /^\+OK alice has 1 message/);
      assert.deepEqual(fx.logins.at(-1), {
        user: "alice",
        method: "SASL SCRAM-SHA-256",
      });
      assert.equal(await client.cmd("QUIT"), "+OK Bye");
    } finally {
      client.close();
    }
  });

  it("SCRAM-SHA-256 with a wrong password gets -ERR [AUTH] and no server signature", async () => {
    const client = await pop3Connect(fx.port);
    try {
      const bare = `n=alice,r=${randomBytes(18).toString("base64")}`;
      const first = await client.cmd(`AUTH SCRAM-SHA-256 ${b64("n,," + bare)}`);
      const serverFirst = Buffer.from(first.slice(2), "base64").toString();
      const r = serverFirst.split(",")[0].slice(2);
      const proof = randomBytes(32).toString("base64");
      assert.match(
        await client.cmd(b64(`c=biws,r=${r},p=${proof}`)),
        /^-ERR \[AUTH\] /,
      );
    } finally {
      client.close();
    }
  });

  it("poplib raw: AUTH lists, PLAIN with padded and = initial responses, * cancels", async () => {
    const plain = b64("\0alice\0wrongpw");
    assert.ok(plain.endsWith("="));
    const got = await poplib(fx.port, [
      ["long", "AUTH"],
      ["short", `AUTH PLAIN ${plain}`],
      ["short", "AUTH PLAIN ="],
      ["putline", "AUTH LOGIN"],
      ["short", "*"],
      ["putline", "AUTH PLAIN"],
      ["short", b64("\0alice\0secret")],
      ["short", "QUIT"],
    ]);
    assert.deepEqual(got[0], [
      "+OK Supported SASL mechanisms follow",
      "SCRAM-SHA-256",
      "CRAM-MD5",
      "OAUTHBEARER",
      "XOAUTH2",
      "PLAIN",
      "LOGIN",
    ]); // deno-fmt-ignore
    assert.match(got[1] as string, /^-ERR \[AUTH\] /, "wrong password");
    assert.match(got[2] as string, /^-ERR \[AUTH\] /, "empty initial response");
    assert.equal(got[3], `+ ${b64("Username:")}`);
    assert.match(got[4] as string, /^-ERR \[AUTH\] /, "cancelled");
    assert.equal(got[5], "+ ", "PLAIN without initial response asks for it");
    assert.match(got[6] as string, /^\+OK alice has 1 message/);
    assert.equal(got[7], "+OK Bye");
  });

  it("accepts a ~2 KB OAUTHBEARER initial response and XOAUTH2, checking the token", async () => {
    const bearer = b64(
      `n,a=alice,\x01host=127.0.0.1\x01auth=Bearer ${TOKEN}\x01\x01`,
    );
    const xoauth = b64(`user=alice\x01auth=Bearer ${TOKEN}\x01\x01`);
    assert.ok(bearer.length > 2000 && xoauth.length > 2000);
    const got = await poplib(fx.port, [
      ["short", `AUTH OAUTHBEARER ${bearer}`],
      ["short", "QUIT"],
    ]);
    assert.match(got[0] as string, /^\+OK alice has 1 message/);
    assert.deepEqual(fx.logins.at(-1), {
      user: "alice",
      method: "SASL OAUTHBEARER",
    });
    const again = await poplib(fx.port, [["short", `AUTH XOAUTH2 ${xoauth}`], [
      "short",
      "QUIT",
    ]]);
    assert.match(again[0] as string, /^\+OK alice has 1 message/);
    assert.deepEqual(fx.logins.at(-1), {
      user: "alice",
      method: "SASL XOAUTH2",
    });
    assert.ok(fx.tokens.includes(`OAUTHBEARER:alice:${TOKEN.length}`));
    assert.ok(fx.tokens.includes(`XOAUTH2:alice:${TOKEN.length}`));
  });

  it("OAUTHBEARER with a bad token gets the JSON error challenge, then -ERR [AUTH]", async () => {
    const bad = b64(`n,a=alice,\x01auth=Bearer ${"B".repeat(600)}\x01\x01`);
    const got = await poplib(fx.port, [
      ["putline", `AUTH OAUTHBEARER ${bad}`],
      ["short", b64("\x01")],
    ]);
    const challenge = got[0] as string;
    assert.match(challenge, /^\+ /);
    const json = JSON.parse(
      Buffer.from(challenge.slice(2), "base64").toString(),
    );
    assert.equal(typeof json.status, "string");
    assert.match(got[1] as string, /^-ERR \[AUTH\] /);
  });
});

(missing ? describe.skip : describe)(
  `SASL with authenticate-only auth on ${RUNTIME}`,
  () => {
    let fx: Fixture;

    before(async () => {
      const hashes = new Map([[
        "alice",
        createHash("sha256").update("secret").digest("hex"),
      ]]);
      const auth: Pop3dAuth<string> = {
        exists: (name) => hashes.has(name),
        lookup: (name) => ["", name],
        authenticate: (name, password) =>
          hashes.get(name) ===
            createHash("sha256").update(password).digest("hex"),
      };
      fx = await serve(auth);
    });

    after(() => fx.server.destroy());

    it("advertises only PLAIN and LOGIN; CRAM-MD5, SCRAM and APOP are refused", async () => {
      const got = await poplib(fx.port, [
        ["long", "CAPA"],
        ["long", "AUTH"],
        ["short", "AUTH CRAM-MD5"],
        ["short", `AUTH SCRAM-SHA-256 ${b64("n,,n=alice,r=abc")}`],
        ["short", "APOP alice 0123456789abcdef0123456789abcdef"],
        ["short", `AUTH PLAIN ${b64("\0alice\0secret")}`],
      ]);
      const capa = got[0] as string[];
      assert.ok(capa.includes("SASL PLAIN LOGIN"), capa.join("|"));
      assert.deepEqual(got[1], [
        "+OK Supported SASL mechanisms follow",
        "PLAIN",
        "LOGIN",
      ]);
      assert.match(got[2] as string, /^-ERR /);
      assert.match(got[3] as string, /^-ERR /);
      assert.match(got[4] as string, /^-ERR /);
      assert.match(got[5] as string, /^\+OK alice has 1 message/);
    });

    it("curl --login-options AUTH=PLAIN and AUTH=LOGIN log in through authenticate", async () => {
      for (const mech of ["PLAIN", "LOGIN"]) {
        const result = await run("curl", [
          "-sS",
          "--login-options",
          `AUTH=${mech}`,
          `pop3://alice:secret@127.0.0.1:${fx.port}/1`,
        ]); // deno-fmt-ignore
        assert.equal(result.code, 0, result.stderr);
        assert.equal(latin1(result.stdout), latin1(utf8(MESSAGE)));
        assert.deepEqual(fx.logins.at(-1), {
          user: "alice",
          method: `SASL ${mech}`,
        });
      }
    });
  },
);
