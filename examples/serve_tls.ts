/**
 * Serves one demo maildrop two ways: POP3S (implicit TLS, RFC 8314) and
 * POP3 with STLS (RFC 2595), with a certificate and key from PEM files.
 *
 *     deno run -A examples/serve_tls.ts --cert cert.pem --key key.pem \
 *       [--port 1110] [--tls-port 1995] [--hostname 127.0.0.1]
 *
 * Runs on Deno, Bun (`bun examples/serve_tls.ts ...`) and Node 24
 * (`node examples/serve_tls.ts ...`): POP3S and STLS work on all three.
 * A test certificate:
 *
 *     openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
 *       -nodes -keyout key.pem -out cert.pem -days 30 -subj /CN=localhost \
 *       -addext subjectAltName=DNS:localhost,IP:127.0.0.1
 */

import { readFile } from "node:fs/promises";
import { MemoryAuth, MemoryStorage, Pop3d, tlsSocket } from "../mod.ts";

type Host = {
  Deno?: { args: string[] };
  process?: {
    argv: string[];
    on(signal: string, handler: () => void): void;
    exit(code?: number): never;
  };
};
const host = globalThis as unknown as Host;
const args = host.Deno?.args ?? host.process?.argv.slice(2) ?? [];

function flag(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i !== -1) return args[i + 1];
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const certFile = flag("cert");
const keyFile = flag("key");
if (!certFile || !keyFile) {
  console.error("Usage: serve_tls.ts --cert cert.pem --key key.pem");
  host.process?.exit(2);
  throw new Error("Missing --cert or --key");
}
const hostname = flag("hostname") ?? "127.0.0.1";
const cert = await readFile(certFile, "utf8");
const key = await readFile(keyFile, "utf8");

const auth = new MemoryAuth().addUser("demo", "demo");
const storage = new MemoryStorage();
storage.deliver(
  "demo",
  "From: a@example.test\r\nSubject: Hello over TLS\r\n\r\nHi!\r\n",
);
const common = {
  hostname,
  auth,
  storage,
  onError: (error: unknown) => console.error("pop3d error:", error),
};

// POP3S: TLS from the first byte; the connections report encrypted: true.
const pop3s = new Pop3d({
  ...common,
  port: Number(flag("tls-port") ?? 1995),
  socket: tlsSocket({ cert, key }),
});
await pop3s.up();
const sPort = pop3s.cget("port");
console.log(`POP3S on ${hostname}:${sPort} (user "demo", password "demo")`);
console.log(
  `  openssl s_client -connect ${hostname}:${sPort} -crlf -CAfile ${certFile}`,
);
console.log(
  `  curl --cacert ${certFile} pop3s://demo:demo@${hostname}:${sPort}/1`,
);

// STLS: plain POP3 that upgrades; passwords only inside TLS on this port.
const stls = new Pop3d({
  ...common,
  port: Number(flag("port") ?? 1110),
  tls: { cert, key },
  plaintextAuth: "tls",
});
try {
  await stls.up();
  const port = stls.cget("port");
  console.log(
    `POP3 + STLS on ${hostname}:${port} (USER/PLAIN only after STLS)`,
  );
  console.log(
    `  openssl s_client -connect ${hostname}:${port} -starttls pop3 -crlf -CAfile ${certFile}`,
  );
  console.log(
    `  curl --ssl-reqd --cacert ${certFile} pop3://demo:demo@${hostname}:${port}/1`,
  );
} catch (error) {
  console.log(`STLS port not started: ${(error as Error).message}`);
}

function stop(): void {
  Promise.all([pop3s.destroy("defer"), stls.destroy("defer")]).then(() => {
    console.log("Stopped");
    host.process?.exit(0);
  });
}
host.process?.on("SIGINT", stop);
host.process?.on("SIGTERM", stop);
