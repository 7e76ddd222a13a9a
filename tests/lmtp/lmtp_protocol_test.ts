import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type {
  LmtpDeliveryOutcome,
  LmtpProtocolOptions,
} from "../../src/lmtp/lmtp_action.ts";
import { LmtpProtocol } from "../../src/lmtp/lmtp_protocol.ts";
import { prng, randomSplit } from "../_helpers/random.ts";

const te = new TextEncoder();
const td = new TextDecoder();

interface Run {
  replies: string;
  delivered: { to: string[]; message: string; from: string }[];
  closed: string | undefined;
}

/**
 * Feeds `input` (in the given chunks) to a protocol whose users are
 * `users`; deliveries to users in `failing` fail temporarily.
 */
function drive(
  chunks: (string | Uint8Array)[],
  options: Partial<LmtpProtocolOptions> & {
    users?: string[];
    failing?: string[];
    broken?: string[];
  } = {},
): Run {
  const users = new Set(options.users ?? ["alice", "bob"]);
  const lmtp = new LmtpProtocol<string>({
    serverName: "mx.test",
    maxMessageSize: 1000,
    maxRecipients: 5,
    maxLineLength: 512,
    maxBadCommands: 10,
    ...options,
  });
  const run: Run = { replies: "", delivered: [], closed: undefined };
  for (const chunk of chunks) {
    lmtp.receive(typeof chunk === "string" ? te.encode(chunk) : chunk);
    for (let a = lmtp.next(); a; a = lmtp.next()) {
      if (a.type === "reply") {
        run.replies += a.text;
        if (a.close) run.closed = a.close;
      } else if (a.type === "recipient") {
        const user = a.address.split("@")[0];
        if (options.broken?.includes(user)) {
          lmtp.recipient({ status: "temporary" });
        } else if (users.has(user)) {
          lmtp.recipient({ status: "accepted", user, mbox: `box-${user}` });
        } else lmtp.recipient({ status: "unknown" });
      } else {
        const outcomes: LmtpDeliveryOutcome[] = a.recipients.map((r) =>
          options.failing?.includes(r.user) ? "temporary" : "delivered"
        );
        run.delivered.push({
          from: a.from,
          to: a.recipients.filter((_, i) => outcomes[i] === "delivered").map((
            r,
          ) => r.mbox),
          message: td.decode(a.message),
        });
        lmtp.delivered(outcomes);
      }
    }
  }
  return run;
}

const LHLO_REPLY =
  "250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n" +
  "250-8BITMIME\r\n250 SIZE 1000\r\n";

describe("LmtpProtocol", () => {
  it("LmtpProtocol greets with 220 and advertises the extensions in LHLO", () => {
    const lmtp = new LmtpProtocol({
      serverName: "mx.test",
      maxMessageSize: 1000,
      maxRecipients: 5,
      maxLineLength: 512,
      maxBadCommands: 10,
    });
    assert.equal(lmtp.greeting(), "220 mx.test LMTP ready\r\n");
    assert.equal(drive(["LHLO client\r\n"]).replies, LHLO_REPLY);
  });

  it("LmtpProtocol answers DATA once per accepted recipient, unknown ones refused at RCPT", () => {
    const run = drive([
      "LHLO c\r\nMAIL FROM:<s@x> BODY=8BITMIME SIZE=20\r\n" +
      "RCPT TO:<alice@x>\r\nRCPT TO:<nobody@x>\r\nRCPT TO:<bob@x>\r\nDATA\r\n",
      "Subject: t\r\n\r\n..hi\r\n.\r\nQUIT\r\n",
    ], { failing: ["bob"] });
    assert.equal(
      run.replies,
      LHLO_REPLY + "250 2.1.0 Sender OK\r\n" +
        "250 2.1.5 Recipient OK\r\n" +
        "550 5.1.1 User unknown\r\n" +
        "250 2.1.5 Recipient OK\r\n" +
        "354 Start mail input; end with <CRLF>.<CRLF>\r\n" +
        "250 2.0.0 <alice@x> Delivered\r\n" +
        "451 4.3.0 <bob@x> Temporary failure, try again\r\n" +
        "221 2.0.0 Bye\r\n",
    );
    assert.deepEqual(run.delivered, [{
      from: "s@x",
      to: ["box-alice"],
      message: "Subject: t\r\n\r\n.hi\r\n",
    }]);
    assert.equal(run.closed, "quit");
  });

  it("LmtpProtocol delivers once to a user named twice but replies twice", () => {
    const run = drive([
      "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@x>\r\nRCPT TO:<alice@y>\r\n" +
      "DATA\r\nx\r\n.\r\n",
    ]);
    assert.equal(run.delivered.length, 1);
    assert.deepEqual(run.delivered[0].to, ["box-alice"]);
    assert.match(
      run.replies,
      /250 2\.0\.0 <alice@x> Delivered\r\n250 2\.0\.0 <alice@y> Delivered\r\n$/,
    );
  });

  it("LmtpProtocol gives 451 4.3.0 when the recipient check fails", () => {
    const run = drive([
      "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<carol@x>\r\n",
    ], { broken: ["carol"] });
    assert.match(run.replies, /451 4\.3\.0 Temporary failure/);
  });

  it("LmtpProtocol refuses SIZE= over the limit with 552 5.3.4", () => {
    const run = drive(["LHLO c\r\nMAIL FROM:<> SIZE=1001\r\n"]);
    assert.match(run.replies, /552 5\.3\.4 Message size exceeds/);
  });

  it("LmtpProtocol answers 552 5.3.4 per recipient for a message over the limit and delivers nothing", () => {
    const big = "x".repeat(600) + "\r\n";
    const run = drive([
      "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@x>\r\nRCPT TO:<bob@x>\r\nDATA\r\n",
      big,
      big,
      ".\r\nMAIL FROM:<>\r\n",
    ]);
    assert.deepEqual(run.delivered, []);
    assert.match(
      run.replies,
      /552 5\.3\.4 <alice@x> Message too big\r\n552 5\.3\.4 <bob@x> Message too big\r\n250 2\.1\.0 Sender OK\r\n$/,
    );
  });

  it("LmtpProtocol takes a message of exactly the limit", () => {
    const body = "y".repeat(998) + "\r\n";
    const run = drive([
      "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@x>\r\nDATA\r\n" + body +
      ".\r\n",
    ]);
    assert.equal(run.delivered[0].message, body);
  });

  it("LmtpProtocol answers 503 5.5.1 for commands out of order", () => {
    const run = drive([
      "MAIL FROM:<>\r\nLHLO c\r\nRCPT TO:<alice@x>\r\nDATA\r\n" +
      "MAIL FROM:<>\r\nDATA\r\nMAIL FROM:<>\r\n",
    ]);
    const lines = run.replies.split("\r\n").filter((l) =>
      !l.startsWith("250-")
    );
    assert.deepEqual(lines, [
      "503 5.5.1 Send LHLO first",
      "250 SIZE 1000",
      "503 5.5.1 Send MAIL first",
      "503 5.5.1 Send MAIL first",
      "250 2.1.0 Sender OK",
      "503 5.5.1 No valid recipients",
      "503 5.5.1 Nested MAIL command",
      "",
    ]);
  });

  it("LmtpProtocol answers 500/501/502/555 for unknown verbs, bad syntax and parameters", () => {
    const run = drive([
      "LHLO c\r\nFOO\r\nEHLO c\r\nVRFY alice\r\nLHLO\r\nMAIL alice\r\n" +
      "MAIL FROM:<> SIZE=abc\r\nMAIL FROM:<> BODY=BINARYMIME\r\n" +
      "MAIL FROM:<> RET=FULL\r\nMAIL FROM:<>\r\nRCPT TO:<alice@x> NOTIFY=NEVER\r\n" +
      "RCPT TO:<>\r\nRSET x\r\nNOOP anything\r\nRSET\r\n",
    ], { maxBadCommands: 20 });
    const lines = run.replies.split("\r\n").filter((l) =>
      l !== "" && !l.startsWith("250-") && !l.startsWith("250 SIZE")
    );
    assert.deepEqual(lines, [
      "500 5.5.1 Unknown command",
      "502 5.5.1 This is LMTP: use LHLO",
      "502 5.5.1 Command not implemented",
      "501 5.5.4 LHLO needs an argument",
      "501 5.5.4 Syntax: MAIL FROM:<address>",
      "501 5.5.4 Bad SIZE parameter",
      "501 5.5.4 Unsupported BODY type",
      "555 5.5.4 Unsupported parameter RET",
      "250 2.1.0 Sender OK",
      "555 5.5.4 Unsupported parameter NOTIFY",
      "501 5.5.4 Syntax: RCPT TO:<address>",
      "501 5.5.4 RSET takes no argument",
      "250 2.0.0 OK",
      "250 2.0.0 OK",
    ]);
  });

  it("LmtpProtocol refuses recipients over the limit with 452 4.5.3", () => {
    const rcpts = Array.from(
      { length: 7 },
      (_, i) => `RCPT TO:<alice@h${i}>\r\n`,
    )
      .join("");
    const run = drive(["LHLO c\r\nMAIL FROM:<>\r\n" + rcpts]);
    assert.equal(run.replies.match(/250 2\.1\.5/g)?.length, 5);
    assert.equal(
      run.replies.match(/452 4\.5\.3 Too many recipients/g)?.length,
      2,
    );
  });

  it("LmtpProtocol answers 500 5.5.2 to a line too long and goes on", () => {
    const run = drive([
      "LHLO c\r\nNOOP " + "z".repeat(600),
      "z".repeat(600) + "\r\nNOOP\r\n",
    ]);
    assert.match(
      run.replies,
      /500 5\.5\.2 Line too long\r\n250 2\.0\.0 OK\r\n$/,
    );
  });

  it("LmtpProtocol closes with 421 4.7.0 after too many bad commands", () => {
    const run = drive(["FOO\r\n".repeat(12)], { maxBadCommands: 3 });
    assert.equal(
      run.replies,
      "500 5.5.1 Unknown command\r\n".repeat(3) +
        "421 4.7.0 Too many errors, closing connection\r\n",
    );
    assert.equal(run.closed, "errors");
  });

  it("LmtpProtocol gives the same replies for any split of pipelined input", () => {
    const input = te.encode(
      "LHLO c\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nRCPT TO:<bob@x>\r\n" +
        "DATA\r\nline\r\n..dots\r\n.\r\nRSET\r\nMAIL FROM:<>\r\nRCPT TO:<bob@x>\r\n" +
        "DATA\r\n.\r\nQUIT\r\n",
    );
    const whole = drive([input]);
    assert.equal(whole.delivered.length, 2);
    const rand = prng(42);
    for (let i = 0; i < 100; i++) {
      assert.deepEqual(drive(randomSplit(rand, input, 6)), whole);
    }
  });

  it("LmtpProtocol ignores smuggled commands after <LF>.<LF>", () => {
    const run = drive([
      "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice@x>\r\nDATA\r\n" +
      "a\n.\nMAIL FROM:<evil@x>\nRCPT TO:<bob@x>\nDATA\nforged\n.\r\n" +
      "\r\n.\r\n",
    ]);
    assert.equal(run.delivered.length, 1);
    assert.deepEqual(run.delivered[0].to, ["box-alice"]);
    assert.match(run.delivered[0].message, /forged/);
  });

  it("LmtpProtocol throws when next() is called before a result", () => {
    const lmtp = new LmtpProtocol({
      serverName: "h",
      maxMessageSize: 10,
      maxRecipients: 1,
      maxLineLength: 512,
      maxBadCommands: 1,
    });
    lmtp.receive(te.encode("LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\n"));
    lmtp.next();
    lmtp.next();
    assert.equal(lmtp.next()?.type, "recipient");
    assert.throws(() => lmtp.next(), /recipient result is missing/);
    assert.throws(() => lmtp.delivered([]), /none were asked for/);
  });
});
