/**
 * The LMTP protocol (RFC 2033) as a sans-I/O state machine: bytes in,
 * replies and requests out; no sockets, timers or backend calls.
 *
 * @module
 */

import { DataDecoder } from "./data_decoder.ts";
import {
  LMTP_COMMANDS,
  type LmtpState,
  type LmtpUnknownCommand,
  mailParamProblem,
  outOfOrder,
  parseLmtpCommand,
  parsePath,
} from "./lmtp_command.ts";
import type {
  LmtpAction,
  LmtpDeliveryOutcome,
  LmtpProtocolOptions,
  LmtpRecipient,
  LmtpRecipientResult,
} from "./lmtp_action.ts";
import { LmtpInput } from "./lmtp_input.ts";
import { MessageBuffer } from "./message_buffer.ts";

/** Formats one reply line: `code enhanced text` and CRLF. */
function line(code: number, enhanced: string, text: string): string {
  return `${code} ${enhanced} ${text}\r\n`;
}

/**
 * One LMTP session's protocol: feed it the client's bytes with
 * {@linkcode LmtpProtocol.receive}, then call {@linkcode LmtpProtocol.next}
 * until it returns `undefined` (it needs more bytes), doing what each
 * action says. Replies carry enhanced status codes (RFC 2034); after DATA
 * there is one reply per accepted `RCPT` (RFC 2033 §4.2). Commands may be
 * pipelined (RFC 2920); the message is dot-unstuffed as it arrives.
 *
 * @example A whole transaction without sockets
 * ```ts
 * import { LmtpProtocol } from "./lmtp_protocol.ts";
 *
 * const lmtp = new LmtpProtocol<string>({
 *   serverName: "mx.example",
 *   maxMessageSize: 1024,
 *   maxRecipients: 10,
 *   maxLineLength: 512,
 *   maxBadCommands: 5,
 * });
 * const out: string[] = [lmtp.greeting()];
 * lmtp.receive(new TextEncoder().encode(
 *   "LHLO me\r\nMAIL FROM:<>\r\nRCPT TO:<bob@mx.example>\r\nDATA\r\nHi\r\n.\r\n",
 * ));
 * for (let a = lmtp.next(); a; a = lmtp.next()) {
 *   if (a.type === "reply") out.push(a.text);
 *   else if (a.type === "recipient") lmtp.recipient({ status: "accepted", user: "bob", mbox: "bob" });
 *   else lmtp.delivered(a.recipients.map(() => "delivered"));
 * }
 * console.assert(out.at(-1) === "250 2.0.0 <bob@mx.example> Delivered\r\n");
 * ```
 */
export class LmtpProtocol<M = unknown> {
  readonly #o: LmtpProtocolOptions;
  #state: LmtpState = "start";
  #waiting: "recipient" | "deliver" | undefined;
  #pendingAddress = "";
  #queued: LmtpAction<M> | undefined;
  #input = new LmtpInput();
  #badCount = 0;
  // The transaction.
  #from = "";
  #rcpts: { address: string; unique: number }[] = [];
  #unique: LmtpRecipient<M>[] = [];
  // The DATA section, while it arrives.
  #data: DataDecoder | undefined;
  #message: MessageBuffer;

  /**
   * Creates the protocol state for one connection.
   *
   * @param options Limits and the server's name.
   */
  constructor(options: LmtpProtocolOptions) {
    this.#o = { ...options };
    this.#message = new MessageBuffer(this.#o.maxMessageSize);
  }

  /** Where the session stands. */
  get state(): LmtpState {
    return this.#state;
  }

  /** Whether the message is being received (after `354`). */
  get inData(): boolean {
    return this.#data !== undefined;
  }

  /** The current transaction: sender and accepted recipient addresses. */
  get envelope(): { from: string; recipients: string[] } {
    return { from: this.#from, recipients: this.#rcpts.map((r) => r.address) };
  }

  /**
   * The greeting to send first.
   *
   * @returns The `220` line.
   */
  greeting(): string {
    return `220 ${this.#o.serverName} LMTP ready\r\n`;
  }

  /**
   * Takes bytes from the client.
   *
   * @param chunk The bytes; kept by reference until consumed.
   */
  receive(chunk: Uint8Array): void {
    this.#input.push(chunk);
  }

  /**
   * Drops every byte received but not yet processed.
   *
   * @returns How many octets were dropped.
   */
  clear(): number {
    return this.#input.clear();
  }

  /**
   * The next thing to do, or `undefined` when more bytes are needed.
   *
   * @returns An action.
   * @throws {Error} While a `recipient` or `deliver` action is unanswered.
   */
  next(): LmtpAction<M> | undefined {
    if (this.#queued) {
      const action = this.#queued;
      this.#queued = undefined;
      return action;
    }
    if (this.#waiting) {
      throw new Error(`Cannot go on: the ${this.#waiting} result is missing`);
    }
    if (this.#state === "closed") return undefined;
    if (this.#data) return this.#receiveData();
    const got = this.#input.takeLine(this.#o.maxLineLength);
    if (got === undefined) return undefined;
    if (got === "too-long") {
      return this.#bad("COMMAND", line(500, "5.5.2", "Line too long"));
    }
    return this.#command(got);
  }

  /**
   * Answers a `recipient` action.
   *
   * @param result Whether the address is accepted, unknown, or cannot be
   * checked now.
   * @throws {Error} When no `recipient` action is waiting.
   */
  recipient(result: LmtpRecipientResult<M>): void {
    if (this.#waiting !== "recipient") {
      throw new Error("Cannot take a recipient result: none was asked for");
    }
    this.#waiting = undefined;
    const address = this.#pendingAddress;
    if (result.status === "unknown") {
      this.#queued = this.#reply("RCPT", 550, "5.1.1", "User unknown", false);
      return;
    }
    if (result.status === "temporary") {
      this.#queued = this.#reply(
        "RCPT",
        451,
        "4.3.0",
        "Temporary failure, try again later",
        false,
      );
      return;
    }
    // The same user twice gets one delivery and the same reply twice.
    let unique = this.#unique.findIndex((r) => r.user === result.user);
    if (unique === -1) {
      unique = this.#unique.length;
      this.#unique.push({ address, user: result.user, mbox: result.mbox });
    }
    this.#rcpts.push({ address, unique });
    this.#state = "rcpt";
    this.#queued = this.#reply("RCPT", 250, "2.1.5", "Recipient OK", true);
  }

  /**
   * Answers a `deliver` action with one outcome per recipient, in the order
   * of its `recipients`.
   *
   * @param outcomes What became of each delivery.
   * @throws {Error} When no `deliver` action is waiting.
   * @throws {RangeError} When the number of outcomes is wrong.
   */
  delivered(outcomes: readonly LmtpDeliveryOutcome[]): void {
    if (this.#waiting !== "deliver") {
      throw new Error("Cannot take delivery results: none were asked for");
    }
    if (outcomes.length !== this.#unique.length) {
      throw new RangeError(
        `Expected ${this.#unique.length} delivery outcomes, got ${outcomes.length}`,
      );
    }
    this.#waiting = undefined;
    let text = "";
    for (const r of this.#rcpts) {
      const who = `<${r.address}>`;
      switch (outcomes[r.unique]) {
        case "delivered":
          text += line(250, "2.0.0", `${who} Delivered`);
          break;
        case "temporary":
          text += line(451, "4.3.0", `${who} Temporary failure, try again`);
          break;
        default:
          text += line(554, "5.3.0", `${who} Delivery failed`);
      }
    }
    const ok = outcomes.every((o) => o === "delivered");
    this.#reset();
    this.#queued = { type: "reply", text, verb: "DATA", ok };
  }

  #reply(
    verb: string,
    code: number,
    enhanced: string,
    text: string,
    ok: boolean,
  ): LmtpAction<M> {
    return { type: "reply", text: line(code, enhanced, text), verb, ok };
  }

  #bad(verb: string, text: string): LmtpAction<M> {
    this.#badCount++;
    if (this.#badCount >= this.#o.maxBadCommands) {
      this.#state = "closed";
      return {
        type: "reply",
        text: text + line(421, "4.7.0", "Too many errors, closing connection"),
        verb,
        ok: false,
        close: "errors",
      };
    }
    return { type: "reply", text, verb, ok: false };
  }

  #reset(): void {
    this.#from = "";
    this.#rcpts = [];
    this.#unique = [];
    this.#data = undefined;
    this.#message.clear();
    if (this.#state !== "start" && this.#state !== "closed") {
      this.#state = "ready";
    }
  }

  #command(text: string): LmtpAction<M> {
    const parsed = parseLmtpCommand(text);
    if (!("argument" in parsed)) return this.#unknown(parsed);
    const cmd = parsed;
    const spec = LMTP_COMMANDS[cmd.name];
    if (spec.argument === "none" && cmd.argument !== "") {
      return this.#bad(
        cmd.name,
        line(501, "5.5.4", `${cmd.name} takes no argument`),
      );
    }
    if (spec.argument === "required" && cmd.argument.trim() === "") {
      return this.#bad(
        cmd.name,
        line(501, "5.5.4", `${cmd.name} needs an argument`),
      );
    }
    if (!spec.states.includes(this.#state)) {
      return this.#bad(
        cmd.name,
        line(503, "5.5.1", outOfOrder(cmd.name, this.#state)),
      );
    }
    switch (cmd.name) {
      case "LHLO":
        return this.#lhlo();
      case "MAIL":
        return this.#mail(cmd.argument);
      case "RCPT":
        return this.#rcpt(cmd.argument);
      case "DATA":
        this.#data = new DataDecoder();
        return {
          type: "reply",
          text: "354 Start mail input; end with <CRLF>.<CRLF>\r\n",
          verb: "DATA",
          ok: true,
        };
      case "RSET":
        this.#reset();
        return this.#reply("RSET", 250, "2.0.0", "OK", true);
      case "NOOP":
        return this.#reply("NOOP", 250, "2.0.0", "OK", true);
      case "QUIT":
        this.#state = "closed";
        return {
          type: "reply",
          text: line(221, "2.0.0", "Bye"),
          verb: "QUIT",
          ok: true,
          close: "quit",
        };
    }
  }

  #unknown(cmd: LmtpUnknownCommand): LmtpAction<M> {
    if (cmd.name === "unknown") {
      return this.#bad(cmd.verb, line(500, "5.5.1", "Unknown command"));
    }
    const hint = cmd.verb === "HELO" || cmd.verb === "EHLO"
      ? "This is LMTP: use LHLO"
      : "Command not implemented";
    return this.#bad(cmd.verb, line(502, "5.5.1", hint));
  }

  #lhlo(): LmtpAction<M> {
    this.#reset();
    this.#state = "ready";
    const name = this.#o.serverName;
    return {
      type: "reply",
      text: `250-${name}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n` +
        `250-8BITMIME\r\n250 SIZE ${this.#o.maxMessageSize}\r\n`,
      verb: "LHLO",
      ok: true,
    };
  }

  #mail(argument: string): LmtpAction<M> {
    const path = parsePath("FROM", argument);
    if (!path) {
      return this.#bad(
        "MAIL",
        line(501, "5.5.4", "Syntax: MAIL FROM:<address>"),
      );
    }
    const problem = mailParamProblem(path.params, this.#o.maxMessageSize);
    if (problem === "too-big") {
      return this.#reply(
        "MAIL",
        552,
        "5.3.4",
        "Message size exceeds fixed maximum message size",
        false,
      );
    }
    if (problem) {
      return this.#bad("MAIL", line(problem[0], "5.5.4", problem[1]));
    }
    this.#from = path.address;
    this.#state = "mail";
    return this.#reply("MAIL", 250, "2.1.0", "Sender OK", true);
  }

  #rcpt(argument: string): LmtpAction<M> {
    const path = parsePath("TO", argument);
    if (!path || path.address === "") {
      return this.#bad("RCPT", line(501, "5.5.4", "Syntax: RCPT TO:<address>"));
    }
    for (const key of path.params.keys()) {
      return this.#bad(
        "RCPT",
        line(555, "5.5.4", `Unsupported parameter ${key}`),
      );
    }
    if (this.#rcpts.length >= this.#o.maxRecipients) {
      return this.#reply("RCPT", 452, "4.5.3", "Too many recipients", false);
    }
    this.#waiting = "recipient";
    this.#pendingAddress = path.address;
    return { type: "recipient", address: path.address };
  }

  #receiveData(): LmtpAction<M> | undefined {
    const result = this.#input.decode(this.#data!);
    if (result === undefined) return undefined;
    for (const piece of result.pieces) this.#message.append(piece);
    if (!result.done) return undefined;
    this.#data = undefined;
    if (this.#message.tooBig) {
      const text = this.#rcpts.map((r) =>
        line(552, "5.3.4", `<${r.address}> Message too big`)
      ).join("");
      this.#reset();
      return { type: "reply", text, verb: "DATA", ok: false };
    }
    this.#waiting = "deliver";
    return {
      type: "deliver",
      from: this.#from,
      recipients: [...this.#unique],
      message: this.#message.bytes(),
    };
  }
}
