import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { filePoolHint } from "../../src/cli/file_pool_hint.ts";
import type { Host } from "../../src/cli/host.ts";
import { makeSite, Program, type Site } from "../_helpers/cli_program.ts";

/** A host that answers only what the hint asks. */
function host(fixed: boolean | undefined, env: Record<string, string>): Host {
  return {
    env: (name: string) => env[name],
    ...(fixed === undefined ? {} : { fixedFilePool: () => fixed }),
  } as unknown as Host;
}

const ASYNC_MAILDIR = { "sync-metadata": false, maildir: "/var/mail" };

describe("filePoolHint", () => {
  it("names UV_THREADPOOL_SIZE for asynchronous Maildir calls on a fixed pool", () => {
    const hint = filePoolHint(ASYNC_MAILDIR, host(true, {}));
    assert.match(hint ?? "", /UV_THREADPOOL_SIZE=16/);
    assert.match(hint ?? "", /sync-metadata false/);
  });

  it("says nothing when the pool grows, the size is set, calls are synchronous or there are no Maildirs", () => {
    assert.equal(filePoolHint(ASYNC_MAILDIR, host(false, {})), undefined);
    assert.equal(filePoolHint(ASYNC_MAILDIR, host(undefined, {})), undefined);
    assert.equal(
      filePoolHint(ASYNC_MAILDIR, host(true, { UV_THREADPOOL_SIZE: "8" })),
      undefined,
    );
    assert.equal(
      filePoolHint({ ...ASYNC_MAILDIR, "sync-metadata": true }, host(true, {})),
      undefined,
    );
    assert.equal(
      filePoolHint(
        { "sync-metadata": false, postgres: "postgres://db/mail" },
        host(true, {}),
      ),
      undefined,
    );
  });
});

describe("the program's hint on the file pool", () => {
  let site: Site;
  before(async () => {
    site = await makeSite();
  });
  after(() => site.remove());

  const hints = async (env: { [name: string]: string | undefined }) => {
    const program = new Program(
      [...site.args, "--sync-metadata", "false"],
      undefined,
      env,
    );
    try {
      await program.ready();
      return program.records.filter((r) => r.event === "hint");
    } finally {
      await program.stop();
    }
  };

  it("logs it once at start on Node and Bun, not on Deno", async () => {
    const env = { ...process.env };
    delete env.UV_THREADPOOL_SIZE;
    const found = await hints(env);
    if ("Deno" in globalThis) {
      assert.deepEqual(found, []);
      return;
    }
    assert.equal(found.length, 1);
    assert.equal(found[0].setting, "sync-metadata");
    assert.match(String(found[0].hint), /UV_THREADPOOL_SIZE=16/);
  });

  it("stays quiet when UV_THREADPOOL_SIZE is set", async () => {
    assert.deepEqual(
      await hints({ ...process.env, UV_THREADPOOL_SIZE: "16" }),
      [],
    );
  });
});
