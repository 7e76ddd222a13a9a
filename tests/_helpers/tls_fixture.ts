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

/**
 * python3 scripted raw client. argv: port, CA file, JSON steps. Steps:
 * `["send", text]` writes text as is (one write), `["line"]` reads one
 * reply line, `["multi"]` reads a multi-line reply through ".", `["tls"]`
 * starts TLS on the socket (verifying the certificate), `["eof"]` reads
 * until the server closes (5 s at most), `["cert"]` gives the SHA-256 of the
 * server's certificate (DER, hex) after `["tls"]`. Prints the JSON list of what each
 * read step got (latin-1 text); a read that fails yields `"<error: ...>"`.
 */
export const RAW_CLIENT = `
import hashlib, json, socket, ssl, sys
port, cafile, steps = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
sock = socket.create_connection(("127.0.0.1", port), timeout=5)
f = sock.makefile("rb")
out = []
for step in steps:
    try:
        if step[0] == "send":
            sock.sendall(step[1].encode("latin-1"))
        elif step[0] == "line":
            out.append(f.readline().decode("latin-1"))
        elif step[0] == "multi":
            lines = []
            while True:
                line = f.readline().decode("latin-1")
                lines.append(line)
                if line in (".\\r\\n", "") or line.startswith("-ERR"):
                    break
            out.append("".join(lines))
        elif step[0] == "tls":
            ctx = ssl.create_default_context(cafile=cafile)
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
            f = sock.makefile("rb")
            out.append("tls:" + sock.version())
        elif step[0] == "cert":
            out.append(hashlib.sha256(sock.getpeercert(True)).hexdigest())
        elif step[0] == "eof":
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            out.append(data.decode("latin-1"))
    except Exception as e:
        out.append("<error: %s>" % type(e).__name__)
print(json.dumps(out))
`;
