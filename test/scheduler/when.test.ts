import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValidationError } from "../../src/errors.js";
import { parseWhen } from "../../src/scheduler/when.js";

const now = 1_700_000_000_000;
const year = 365 * 86_400_000;

describe("parseWhen", () => {
  it("reads Gozo's forms: epoch seconds and +seconds", () => {
    assert.equal(parseWhen("1700000010", now, year), 1_700_000_010_000);
    assert.equal(parseWhen("+10", now, year), now + 10_000);
  });

  it("reads the extensions: fractions, units, RFC 3339", () => {
    assert.equal(parseWhen("1700000010.250", now, year), 1_700_000_010_250);
    assert.equal(parseWhen("+1.5", now, year), now + 1500);
    assert.equal(parseWhen("+250ms", now, year), now + 250);
    assert.equal(parseWhen("+5m", now, year), now + 300_000);
    assert.equal(parseWhen("+1h", now, year), now + 3_600_000);
    assert.equal(parseWhen("+2d", now, year), now + 172_800_000);
    assert.equal(parseWhen("2023-11-14T22:13:30.5Z", now, year), Date.parse("2023-11-14T22:13:30.500Z"));
    assert.equal(parseWhen("2023-11-14T23:13:30+01:00", now, year), Date.parse("2023-11-14T22:13:30Z"));
  });

  it("accepts a past time (it fires at once)", () => {
    assert.equal(parseWhen("1", now, year), 1000);
  });

  it("refuses garbage, negatives, NaN, overflow and the absurdly far future", () => {
    for (const bad of [
      "",
      "soon",
      "+",
      "-5",
      "+-5",
      "NaN",
      "+NaN",
      "Infinity",
      "1e10",
      "99999999999999999999",
      "+5y",
      "2023-13-45",
      "+99999999999",
    ]) {
      assert.throws(
        () => parseWhen(bad, now, year),
        (e: unknown) => e instanceof ValidationError && e.code === "invalid_when",
        bad,
      );
    }
    assert.throws(() => parseWhen("+400d", now, year), /days ahead/);
  });
});
