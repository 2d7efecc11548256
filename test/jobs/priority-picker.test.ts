import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PriorityPicker, STARVATION_LIMIT } from "../../src/jobs/priority-picker.js";

describe("PriorityPicker", () => {
  it("serves the most urgent level with work first", () => {
    const waiting = [0, 0, 2, 0, 0, 1, 0, 0, 0, 3];
    const picker = new PriorityPicker();
    const order: number[] = [];
    for (;;) {
      const level = picker.pick((l) => waiting[l]!);
      if (level === undefined) break;
      waiting[level]!--;
      order.push(level);
    }
    assert.deepEqual(order, [2, 2, 5, 9, 9, 9]);
  });

  it("lets a level passed over STARVATION_LIMIT times in a row through once", () => {
    const picker = new PriorityPicker();
    // Levels 0 and 9 never run dry.
    const order = Array.from({ length: 3 * (STARVATION_LIMIT + 1) }, () =>
      picker.pick((l) => (l === 0 || l === 9 ? 1 : 0)),
    );
    const expected = Array.from({ length: 3 }, () => [...Array(STARVATION_LIMIT).fill(0), 9]).flat();
    assert.deepEqual(order, expected);
  });

  it("shares the starvation turns between several waiting levels, most urgent first", () => {
    const picker = new PriorityPicker();
    const order = Array.from({ length: STARVATION_LIMIT + 2 }, () =>
      picker.pick((l) => (l === 0 || l === 4 || l === 7 ? 1 : 0)),
    );
    assert.deepEqual(order, [...Array(STARVATION_LIMIT).fill(0), 4, 7]);
  });

  it("answers undefined when nothing waits", () => {
    assert.equal(
      new PriorityPicker().pick(() => 0),
      undefined,
    );
  });
});
