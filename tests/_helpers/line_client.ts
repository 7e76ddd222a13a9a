// A small POP3 client over node:net for tests on every runtime.
import { connect, type Socket } from "node:net";

/** A line-oriented client: send a command, read single- or multi-line replies. */
export class NetClient {
  #socket: Socket;
  #buffer = "";
  #waiters: (() => void)[] = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (data: string) => {
      this.#buffer += data;
      this.#wake();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<NetClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(
        { host: "127.0.0.1", port },
        () => resolve(new NetClient(socket)),
      );
      socket.once("error", reject);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Reads one line (without CRLF); null at end of stream. */
  async line(): Promise<string | null> {
    for (;;) {
      const i = this.#buffer.indexOf("\r\n");
      if (i !== -1) {
        const line = this.#buffer.slice(0, i);
        this.#buffer = this.#buffer.slice(i + 2);
        return line;
      }
      if (this.#closed) return null;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Reads a multi-line block after its first line, unstuffed, up to ".". */
  async block(): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line();
      if (line === null) {
        throw new Error("Connection closed inside a multi-line reply");
      }
      if (line === ".") return lines;
      lines.push(line.startsWith(".") ? line.slice(1) : line);
    }
  }

  write(text: string): void {
    this.#socket.write(text);
  }

  /** Sends one command and returns the first reply line. */
  async cmd(line: string): Promise<string> {
    this.write(line + "\r\n");
    const reply = await this.line();
    if (reply === null) {
      throw new Error(`Connection closed after ${line.split(" ")[0]}`);
    }
    return reply;
  }

  /** Waits until the server closes the connection. */
  async ended(): Promise<void> {
    while (!this.#closed) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}
