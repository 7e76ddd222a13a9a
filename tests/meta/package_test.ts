import { it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

const root = new URL("../../", import.meta.url);
const read = async (name: string) =>
  JSON.parse(await readFile(new URL(name, root), "utf8"));

it("deno.json and jsr.json agree on name, version, license and exports", async () => {
  const deno = await read("deno.json");
  const jsr = await read("jsr.json");
  for (const key of ["name", "version", "license", "exports", "publish"]) {
    assert.deepEqual(jsr[key], deno[key], key);
  }
  assert.equal(deno.name, "@x/pop3d");
});

it("the core speaks only web APIs: runtime names appear only in adapters", async () => {
  const { readdir } = await import("node:fs/promises");
  const files: string[] = [];
  async function walk(dir: URL, rel: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = `${rel}${entry.name}`;
      if (entry.isDirectory()) {
        await walk(new URL(`${entry.name}/`, dir), `${path}/`);
      } else if (entry.name.endsWith(".ts")) files.push(path);
    }
  }
  await walk(new URL("src/", root), "src/");
  assert.ok(files.length > 20);
  const offenders: string[] = [];
  for (const file of files) {
    if (/^src\/(transport|runtime|cli)\//.test(file)) continue;
    const text = await readFile(new URL(file, root), "utf8");
    const code = text.split("\n").filter((l) => !/^\s*(\*|\/\/|\/\*\*)/.test(l))
      .join("\n");
    if (/\bDeno\.|\bBun\.|from "node:|require\("node:|\bprocess\./.test(code)) {
      offenders.push(file);
    }
  }
  assert.deepEqual(offenders, []);
});

it("every export is a file with a module doc, and the core entry point loads no backend", async () => {
  const deno = await read("deno.json");
  for (
    const [name, file] of Object.entries(deno.exports as Record<string, string>)
  ) {
    const text = await readFile(new URL(file, root), "utf8");
    assert.match(text, /@module/, name);
    assert.match(text, /@example/, name);
    if (name !== ".") {
      assert.equal(deno.imports[`@x/pop3d${name.slice(1)}`], file, name);
    }
  }
  // Walk the static imports of mod.ts (dynamic import() is lazy).
  const seen = new Set<string>();
  const todo = ["mod.ts"];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = await readFile(new URL(file, root), "utf8");
    for (
      const m of text.matchAll(/^(?:import|export)[^;]*?from "(\.[^"]+)";/gms)
    ) {
      const url = new URL(m[1], new URL(file, root));
      todo.push(url.pathname.slice(new URL(root).pathname.length));
    }
  }
  const backends = [...seen].filter((f) =>
    /^src\/(maildir|postgres|testing)\/|passwd_file|password_scheme/.test(f)
  );
  assert.deepEqual(backends, []);
  assert.ok(seen.has("src/storage/memory_storage.ts"));
});
