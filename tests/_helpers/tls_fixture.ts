/** Messages and client scripts shared by the TLS tests. */

/** A small message with a line that starts with a dot (stuffed on the wire). */
export const MESSAGE = [
  "From: Bob <bob@example.test>",
  "To: Alice <alice@example.test>",
  "Subject: over TLS",
  "",
  "Hello Alice.",
  ".A line that starts with a dot.",
  "..and one with two.",
  "Latin-1 byte: \u00e9",
  "",
].join("\r\n");

/**
 * A ~300 KB message (every character one byte, so `latin1` text equals the
 * bytes), large enough for several TLS records and writes.
 */
export function bigMessage(): string {
  const lines = ["Subject: big", ""];
  for (let i = 0; i < 5000; i++) {
    lines.push(`${i % 7 === 0 ? "." : ""}line ${i} ${"x".repeat(50)}`);
  }
  lines.push("");
  return lines.join("\r\n");
}

/**
 * python3 poplib client. argv: port, CA file, mode ("ssl" for POP3_SSL,
 * "stls" for POP3 + stls()), comma-separated message numbers. Prints JSON:
 * the CAPA before and after, and each message base64-encoded (bytes as
 * read, with poplib's dot-unstuffing, lines joined with CRLF).
 */
export const POPLIB_RETR = `
import base64, json, poplib, ssl, sys
port, cafile, mode, which = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)
before = None
if mode == "ssl":
    p = poplib.POP3_SSL("127.0.0.1", port, context=ctx)
else:
    p = poplib.POP3("127.0.0.1", port)
    before = p.capa()
    p.stls(context=ctx)
capa = p.capa()
p.user("alice")
p.pass_("secret")
out = []
for n in which.split(","):
    resp, lines, octets = p.retr(int(n))
    out.append(base64.b64encode(b"\\r\\n".join(lines) + b"\\r\\n").decode())
p.quit()
print(json.dumps({"before": before, "capa": capa, "messages": out}))
`;

/** UTF-8 bytes of a string (how MemoryStorage stores text). */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Bytes as a string of code units 0–255, one per byte (what `atob` gives). */
export function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}
