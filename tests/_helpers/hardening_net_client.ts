/**
 * A POP3 test client on node:net (runs under Deno, Bun and Node), reading
 * CRLF lines in the background.
 */

import net from "node:net";

/** A line-reading TCP client. */
export class NetClient {
  readonly socket: net.Socket;
  #text = "";
  #eof = false;
  #wake: (() => void) | undefined;
  /** Octets received. */
  bytes = 0;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.#text += chunk;
      this.bytes += chunk.length;
      this.#wake?.();
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.#eof = true;
        this.#wake?.();
        resolve();
      })
    );
  }

  /** Connects to 127.0.0.1:port. */
  static connect(port: number): Promise<NetClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.off("error", reject);
        resolve(new NetClient(socket));
      });
      socket.once("error", reject);
    });
  }

  /** The next line without CRLF, or null at EOF. */
  async line(): Promise<string | null> {
    for (;;) {
      const at = this.#text.indexOf("\r\n");
      if (at !== -1) {
        const line = this.#text.slice(0, at);
        this.#text = this.#text.slice(at + 2);
        return line;
      }
      if (this.#eof) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }

  /** Lines of a multi-line block, up to the ".". */
  async block(): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line();
      if (line === null) throw new Error("EOF inside a block");
      if (line === ".") return lines;
      lines.push(line);
    }
  }

  /** Writes and waits for the socket to drain if it asked to. */
  send(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(new Error("Socket closed"));
      if (this.socket.write(data)) resolve();
      else {
        const done = () => {
          this.socket.off("drain", done);
          this.socket.off("close", done);
          resolve();
        };
        this.socket.on("drain", done);
        this.socket.on("close", done);
      }
    });
  }

  /** Sends a command line and returns the reply line. */
  async cmd(line: string): Promise<string | null> {
    await this.send(line + "\r\n");
    return await this.line();
  }

  /** Logs in with USER/PASS; throws unless the server says +OK. */
  async login(user: string, password: string): Promise<string> {
    const greeting = await this.line();
    if (!greeting?.startsWith("+OK")) throw new Error(`Greeting: ${greeting}`);
    await this.cmd(`USER ${user}`);
    const reply = await this.cmd(`PASS ${password}`);
    if (!reply?.startsWith("+OK")) throw new Error(`Login: ${reply}`);
    return reply;
  }

  /** Closes abruptly. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** Whether connecting to 127.0.0.1:port is refused. */
export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}
