import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseCommand, parseNumber } from "../../src/protocol/command.ts";
import { Pop3SyntaxError } from "../../src/errors.ts";

const te = new TextEncoder();
const parse = (s: string) => parseCommand(te.encode(s));

describe("parseCommand", () => {
  it("parseCommand upper-cases the keyword and knows every command", () => {
    for (
      const name of [
        "USER",
        "PASS",
        "APOP",
        "AUTH",
        "STLS",
        "CAPA",
        "QUIT",
        "STAT",
        "LIST",
        "RETR",
        "DELE",
        "NOOP",
        "RSET",
        "TOP",
        "UIDL",
      ]
    ) {
      assert.equal(parse(name.toLowerCase()).name, name);
      assert.equal(parse(name[0] + name.slice(1).toLowerCase()).name, name);
    }
  });

  it("parseCommand gives undefined for an unknown keyword but keeps the verb", () => {
    const cmd = parse("xtnd xmit");
    assert.equal(cmd.name, undefined);
    assert.equal(cmd.verb, "XTND");
    assert.deepEqual(cmd.args, ["XMIT"].map((a) => a.toLowerCase()));
  });

  it("parseCommand splits arguments and keeps the rest verbatim", () => {
    const cmd = parse("PASS  my  secret pass ");
    assert.deepEqual(cmd.args, ["my", "secret", "pass"]);
    assert.equal(cmd.rest, " my  secret pass ");
    assert.equal(parse("pass my secret").rest, "my secret");
    assert.deepEqual(parse("STAT").args, []);
    assert.equal(parse("STAT").rest, "");
  });

  it("parseCommand rejects an empty line, NUL, DEL and control bytes", () => {
    for (const bad of ["", "US\0ER a", "NOOP\x7f", "NOOP\x01", "A\rB"]) {
      assert.throws(() => parse(bad), Pop3SyntaxError, JSON.stringify(bad));
    }
  });

  it("parseCommand accepts a tab and UTF-8", () => {
    assert.equal(parse("PASS a\tb").rest, "a\tb");
    assert.equal(parse("USER jürgen").rest, "jürgen");
  });
});

describe("parseNumber", () => {
  it("parseNumber reads decimal digits", () => {
    assert.equal(parseNumber("42", "message number"), 42);
    assert.equal(parseNumber("0", "n"), 0);
    assert.equal(parseNumber("007", "n"), 7);
  });

  it("parseNumber rejects signs, fractions, hex, exponents and words", () => {
    for (
      const bad of ["-1", "+1", "1.5", "0x10", "1e3", "x", "", " 1", "1 ", "١"]
    ) {
      assert.throws(() => parseNumber(bad, "n"), Pop3SyntaxError, bad);
    }
  });

  it("parseNumber rejects a missing argument and absurdly long numbers", () => {
    assert.throws(() => parseNumber(undefined, "message number"), {
      name: "Pop3SyntaxError",
      message: "Missing message number",
    });
    assert.throws(() => parseNumber("9".repeat(16), "n"), Pop3SyntaxError);
    assert.equal(parseNumber("9".repeat(15), "n"), 999999999999999);
  });
});
