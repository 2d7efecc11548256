import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeTime } from "ulid";
import { newId } from "../../src/jobs/id.js";

const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Waits (busy) until the millisecond clock moves on, so the next id draws fresh randomness. */
function nextMillisecond(): void {
  const now = Date.now();
  while (Date.now() === now) {
    /* spin */
  }
}

describe("newId", () => {
  it("gives ULIDs that sort in creation order, also within one millisecond", () => {
    const ids = Array.from({ length: 20_000 }, newId);
    for (const id of ids) assert.match(id, CROCKFORD);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
  });

  it("stamps the current time", () => {
    const before = Date.now();
    const id = newId();
    const after = Date.now();
    const t = decodeTime(id);
    assert.ok(t >= before && t <= after, `${t} not within ${before}..${after}`);
  });

  it("draws the random part afresh each millisecond, over all 32 symbols of every position", () => {
    // 1,024 ids in distinct milliseconds take 16 random bytes each, four refills of the pool: a
    // pool handed out twice, or a position stuck at some symbols, would show as duplicates or
    // missing symbols.
    const randomParts = new Set<string>();
    const seen = Array.from({ length: 16 }, () => new Set<string>());
    for (let i = 0; i < 1024; i++) {
      nextMillisecond();
      const random = newId().slice(10);
      randomParts.add(random);
      for (let pos = 0; pos < random.length; pos++) seen[pos]!.add(random[pos]!);
    }
    assert.equal(randomParts.size, 1024);
    for (const [pos, symbols] of seen.entries()) assert.equal(symbols.size, 32, `position ${pos}`);
  });
});
