import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { busiestWindow, selfTimes } from "../../bench/cpuprofile_top.ts";

const frame = (functionName: string, url = "", lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
});

/** 1 ms samples: 10 idle, then `busy` (alternating a and b), then 10 idle. */
function profile(busy: number) {
  const nodes = [
    { id: 1, callFrame: frame("(root)"), children: [2, 3, 4] },
    { id: 2, callFrame: frame("(idle)") },
    {
      id: 3,
      callFrame: frame("a", "file:///x/src/maildir/maildir_storage.ts", 9),
    },
    { id: 4, callFrame: frame("b", "file:///x/src/session/session.ts", 19) },
  ];
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) samples.push(2);
  for (let i = 0; i < busy; i++) samples.push(i % 2 === 0 ? 3 : 4);
  for (let i = 0; i < 10; i++) samples.push(2);
  return {
    nodes,
    samples,
    timeDeltas: samples.map(() => 1000),
    startTime: 0,
    endTime: samples.length * 1000,
  };
}

describe("cpuprofile_top", () => {
  it("selfTimes adds each sample's interval to its function and file", () => {
    const { functions, files, totalMs } = selfTimes(profile(20), 0, Infinity);
    assert.equal(Math.round(totalMs), 39); // the last sample has no interval
    const a = functions.find((f) => f.what.startsWith("a "))!;
    assert.equal(a.what, "a src/maildir/maildir_storage.ts:10");
    assert.equal(Math.round(a.ms), 10);
    assert.ok(files.some((f) => f.what === "src/session/session.ts"));
    const idle = functions.find((f) => f.what === "(idle)")!;
    assert.equal(Math.round(idle.ms), 19);
  });

  it("busiestWindow finds the busy stretch between idle ones", () => {
    const [from, to] = busiestWindow(profile(20), 10);
    assert.ok(from >= 10 && to <= 31, `${from}..${to}`);
    const { functions } = selfTimes(profile(20), from, to);
    assert.equal(functions.find((f) => f.what === "(idle)"), undefined);
  });
});
