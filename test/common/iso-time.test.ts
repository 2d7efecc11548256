import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isoTime } from "../../src/iso-time.js";
import { fuzzParams } from "../fuzz/fuzz-support.js";

describe("isoTime", () => {
  it("formats exactly as Date.prototype.toISOString, for any time and in any order", () => {
    // Times spread over the ranges the cache meets: the same second again, neighbouring seconds,
    // seconds that share a cache slot, and anything from 1970 to 9999.
    const near = fc.integer({ min: 1_764_000_000_000, max: 1_764_000_020_000 });
    const any = fc.integer({ min: 0, max: 253_402_300_799_999 });
    fc.assert(
      fc.property(fc.array(fc.oneof(near, any), { minLength: 1, maxLength: 50 }), (times) => {
        for (const t of times) assert.equal(isoTime(t), new Date(t).toISOString());
      }),
      fuzzParams(500, 5_000),
    );
  });

  it("takes what toISOString takes at the edges: years past 9999, before 1970, fractions", () => {
    for (const t of [0, 999, 1000, 253_402_300_800_000, 8.64e15, -1, -86_400_001, 1.5, 1_764_000_000_000.75]) {
      assert.equal(isoTime(t), new Date(t).toISOString(), String(t));
    }
  });

  it("throws a RangeError for an invalid time, as toISOString does", () => {
    for (const t of [Number.NaN, Number.POSITIVE_INFINITY, 8.64e15 + 1]) assert.throws(() => isoTime(t), RangeError);
  });
});
