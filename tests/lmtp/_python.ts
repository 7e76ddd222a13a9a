// Runs tests/lmtp/_lmtp_client.py asynchronously (the servers run on this
// event loop, so a synchronous spawn would deadlock).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./_lmtp_client.py", import.meta.url));

/** Sends one request to the python driver and returns its JSON answer. */
export function python(
  request: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", [SCRIPT, JSON.stringify(request)]);
    let out = "";
    let err = "";
    child.stdout.on(
      "data",
      (d: Uint8Array) => out += new TextDecoder().decode(d),
    );
    child.stderr.on(
      "data",
      (d: Uint8Array) => err += new TextDecoder().decode(d),
    );
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`python3 exited with ${code}: ${err}`));
      else resolve(JSON.parse(out));
    });
  });
}

/** Runs a program and returns its exit code and output. */
export function runProgram(
  cmd: string,
  args: string[],
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args);
    let out = "";
    child.stdout.on(
      "data",
      (d: Uint8Array) => out += new TextDecoder().decode(d),
    );
    child.stderr.on(
      "data",
      (d: Uint8Array) => out += new TextDecoder().decode(d),
    );
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

/** Base64 of bytes, and back. */
export function b64(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

/** Bytes of a base64 text. */
export function unb64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
