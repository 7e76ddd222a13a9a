/**
 * Runs a POP3 server with a demo user and a few sample messages, or serves
 * real Maildirs to the users of a Dovecot passwd-file.
 *
 *     deno run -A examples/serve.ts [--port 1110] [--hostname 127.0.0.1]
 *     deno run -A examples/serve.ts --maildir ROOT --passwd FILE
 *     bun examples/serve.ts [--port 1110]
 *     node examples/serve.ts [--port 1110]      (Node 24: npx -y node@24 ...)
 *
 * The same file runs on all three: `new Pop3d()` picks the host's adapter.
 *
 * With `--maildir ROOT --passwd FILE`, every user of the passwd-file logs in
 * with its password (see examples/adduser.ts) and gets the Maildir
 * `ROOT/<user>` (or the line's `mail=maildir:PATH`, inside ROOT).
 *
 * The port also comes from the PORT environment variable. Ctrl-C stops
 * accepting and waits for open sessions to finish (`destroy("defer")`).
 */

import {
  type MaildropStore,
  MemoryAuth,
  MemoryStorage,
  Pop3d,
  type Pop3dAuth,
  type Pop3dStorage,
} from "../mod.ts";
import { MaildirStorage, PasswdFileAuth } from "../maildir.ts";

type Host = {
  Deno?: {
    args: string[];
    env: { get(name: string): string | undefined };
    addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
    exit(code?: number): never;
  };
  process?: {
    argv: string[];
    env: Record<string, string | undefined>;
    on(signal: string, handler: () => void): void;
    exit(code?: number): never;
  };
};
const host = globalThis as unknown as Host;
const args = host.Deno?.args ?? host.process?.argv.slice(2) ?? [];
const env = (name: string) =>
  host.Deno?.env.get(name) ?? host.process?.env[name];

function flag(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i !== -1) return args[i + 1];
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

const port = Number(flag("port") ?? env("PORT") ?? 1110);
const hostname = flag("hostname") ?? "127.0.0.1";

const maildir = flag("maildir");
const passwd = flag("passwd");
if ((maildir === undefined) !== (passwd === undefined)) {
  console.error("--maildir ROOT and --passwd FILE go together");
  host.Deno?.exit(2) ?? host.process?.exit(2);
}

let auth: Pop3dAuth<string>;
let storage: Pop3dStorage<string> | MaildropStore<string>;
let hint: string;
if (maildir !== undefined && passwd !== undefined) {
  auth = new PasswdFileAuth({
    path: passwd,
    mailRoot: maildir,
    onWarning: (message) => console.warn(message),
    onError: (error) => console.error(error),
  });
  storage = new MaildirStorage({
    root: maildir,
    onError: (error) => console.error(error),
  });
  hint = `users of ${passwd}, Maildirs under ${maildir}`;
} else {
  auth = demo();
  storage = demoStorage();
  hint = 'user "demo", password "demo"';
}

function demo(): Pop3dAuth<string> {
  return new MemoryAuth().addUser("demo", "demo");
}

function demoStorage(): Pop3dStorage<string> {
  const storage = new MemoryStorage();
  for (let i = 1; i <= 3; i++) {
    storage.deliver(
      "demo",
      [
        "From: Sender <sender@example.test>",
        "To: Demo <demo@example.test>",
        `Subject: Sample message ${i}`,
        `Message-ID: <sample.${i}@example.test>`,
        "",
        `This is sample message ${i}.`,
        ".A line that starts with a dot (dot-stuffed on the wire).",
        "",
      ].join("\r\n"),
    );
  }
  return storage;
}

const server = new Pop3d({
  port,
  hostname,
  auth,
  storage,
  logger: console,
});
await server.up();
const bound = server.cget("port");
console.log(
  `POP3 server listening on ${hostname}:${bound} (${hint})`,
);
if (maildir === undefined) {
  console.log(`Try: curl -s pop3://demo:demo@${hostname}:${bound}/1`);
}

let stopping = false;
function stop(): void {
  if (stopping) host.Deno?.exit(130) ?? host.process?.exit(130);
  stopping = true;
  console.log("Stopping: waiting for open sessions (Ctrl-C again to quit now)");
  server.destroy("defer").then(() => {
    console.log("Stopped");
    host.Deno?.exit(0) ?? host.process?.exit(0);
  });
}
if (host.Deno) {
  host.Deno.addSignalListener("SIGINT", stop);
  host.Deno.addSignalListener("SIGTERM", stop);
} else {
  host.process?.on("SIGINT", stop);
  host.process?.on("SIGTERM", stop);
}
