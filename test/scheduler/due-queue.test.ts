import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DueQueue } from "../../src/scheduler/due-queue.js";

describe("DueQueue", () => {
  it("pops entries in due order, honours replace and delete", () => {
    const q = new DueQueue();
    const dues = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
    for (const [i, d] of dues.entries()) q.set(`k${i}`, d, i);
    q.set("k0", 5000, 99); // replace: later
    q.set("k1", -1, 98); // replace: earlier
    assert.ok(q.delete("k2"));
    assert.ok(!q.delete("nope"));
    assert.equal(q.size, 999);
    assert.equal(q.peek()?.key, "k1");
    const out: number[] = [];
    for (let e = q.popDue(Number.POSITIVE_INFINITY); e; e = q.popDue(Number.POSITIVE_INFINITY)) out.push(e.due);
    assert.equal(out.length, 999);
    for (let i = 1; i < out.length; i++) assert.ok(out[i - 1]! <= out[i]!, "heap order");
    assert.equal(out.at(-1), 5000);
    assert.equal(q.size, 0);
  });

  it("popDue stops at entries not yet due", () => {
    const q = new DueQueue();
    q.set("a", 10, 1);
    q.set("b", 20, 2);
    assert.equal(q.popDue(15)?.key, "a");
    assert.equal(q.popDue(15), undefined);
    assert.equal(q.get("b")?.seq, 2);
  });
});
