import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { barChart, type Panel } from "../../bench/_svg.ts";

const panel = (values: number[][], target = 2): Panel => ({
  title: "sessions/s, maildir <x>",
  target,
  groups: ["plain", "STLS"],
  series: ["Deno", "Bun"],
  values,
});

function bars(svg: string): { height: number; title: string }[] {
  return [...svg.matchAll(
    /<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)" fill="[^"]+"><title>([^<]*)<\/title>/g,
  )].map((m) => ({ height: Number(m[1]), title: m[2] }));
}

describe("barChart", () => {
  it("barChart draws one bar per finite value, with heights proportional to the ratio", () => {
    const svg = barChart("t", [panel([[1, 2], [0.5, NaN]])], 1, "note");
    const b = bars(svg);
    assert.equal(b.length, 3);
    assert.ok(b[0].title.endsWith("plain, Deno: 1.00×"));
    assert.ok(Math.abs(b[1].height / b[0].height - 2) < 0.01);
    assert.ok(Math.abs(b[2].height / b[0].height - 0.5) < 0.01);
    // the missing value is marked, not drawn
    assert.match(svg, />–<\/text>/);
  });

  it("barChart draws the 1× line and the target line", () => {
    const lines = (svg: string) =>
      [...svg.matchAll(
        /<line [^>]*stroke="([^"]+)" stroke-dasharray="([^"]*)"/g,
      )]
        .map((m) => `${m[1]} ${m[2]}`);
    const two = barChart("t", [panel([[1, 1], [1, 1]], 2)], 1, "");
    assert.deepEqual(lines(two), ["#333 ", "#c33 4 3"]);
    assert.match(two, />2×<\/text>/);
    const one = barChart("t", [panel([[1, 1], [1, 1]], 1)], 1, "");
    assert.deepEqual(lines(one), ["#333 "]);
  });

  it("barChart escapes text and produces balanced, standalone SVG", () => {
    const svg = barChart("a < b & c", [panel([[1, 1], [1, 1]])], 1, "x>y");
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assert.match(svg, /a &lt; b &amp; c/);
    assert.match(svg, /maildir &lt;x&gt;/);
    assert.doesNotMatch(svg, /<x>/);
    const opened = (svg.match(/<(text|title|svg)\b/g) ?? []).length;
    const closed = (svg.match(/<\/(text|title|svg)>/g) ?? []).length;
    assert.equal(opened, closed);
  });

  it("barChart caps a bar above the scale at the panel top", () => {
    const svg = barChart("t", [panel([[100, 1], [1, 1]])], 1, "");
    const b = bars(svg);
    assert.ok(b[0].height > b[1].height);
    assert.ok(b[0].height <= 150);
  });
});
