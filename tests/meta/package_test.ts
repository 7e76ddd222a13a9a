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
