import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { clampDelay, MAX_TIMER_MS, sleepUntil, timeout, timeoutAt } from "../../src/timers.js";
import { waitUntil } from "../support/nats.js";

const DAY = 86_400_000;

/** Warnings the process emitted while the tests ran. */
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
before(() => process.on("warning", onWarning));
after(() => process.off("warning", onWarning));

/** A clock the test moves by hand; counts how often it is read. */
function manualClock(start: number) {
  const c = {
    now: start,
    reads: 0,
    read: () => {
      c.reads++;
      return c.now;
    },
  };
  return c;
}

describe("timers beyond 2^31-1 ms", () => {
  it("clampDelay keeps delays within what Node takes", () => {
    assert.equal(clampDelay(40 * DAY), MAX_TIMER_MS);
    assert.equal(clampDelay(Number.POSITIVE_INFINITY), MAX_TIMER_MS);
    assert.equal(clampDelay(1500), 1500);
    assert.equal(clampDelay(-5), 0);
    assert.equal(clampDelay(Number.NaN), 0);
  });

  it("a timer due in 40 days neither runs early nor makes Node warn", async () => {
    let ran = 0;
    const a = timeoutAt(() => ran++, Date.now() + 40 * DAY);
    const b = timeout(() => ran++, 400 * DAY);
    // Node turns an oversized delay into 1 ms (warning on the next tick): a timer that passed
    // one on would sit in Node's 1 ms list ahead of this one, created after it, and run first.
    await new Promise((r) => setTimeout(r, 1));
    assert.equal(ran, 0);
    assert.ok(a.pending && b.pending);
    assert.deepEqual(
      warnings.map((w) => w.name),
      [],
    );
    a.clear();
    b.clear();
    assert.ok(!a.pending && !b.pending);
  });

  it("wakes in steps and runs only once its clock reaches the due time", async () => {
    const clock = manualClock(1_000_000);
    let ran = 0;
    const t = timeoutAt(() => ran++, clock.now + 20, { clock: clock.read });
    // Each step ends after 20 real ms and reads the clock, which has not moved: the timer waits again.
    await waitUntil(() => clock.reads >= 4, 5000, "two wake-ups");
    assert.equal(ran, 0, "ran before its clock said it was due");
    assert.ok(t.pending);
    clock.now += 20;
    await waitUntil(() => ran > 0, 5000, "the run");
    assert.equal(ran, 1);
    assert.ok(!t.pending);
  });

  it("a cleared timer never runs; a delay uses its own clock", async () => {
    const clock = manualClock(0);
    let ran = 0;
    const t = timeout(() => ran++, 5, { clock: clock.read });
    t.clear();
    const u = timeout(() => ran++, 5, { clock: clock.read });
    clock.now = 5;
    await waitUntil(() => !u.pending, 5000);
    assert.equal(ran, 1);
  });

  it("sleepUntil resolves at the due time on its clock, or at once on abort", async () => {
    const clock = manualClock(0);
    let woke = false;
    const sleeping = sleepUntil(10, { clock: clock.read }).then(() => {
      woke = true;
    });
    await waitUntil(() => clock.reads >= 3, 5000);
    assert.equal(woke, false);
    clock.now = 10;
    await sleeping;
    const ac = new AbortController();
    const far = sleepUntil(Date.now() + 40 * DAY, { signal: ac.signal });
    ac.abort();
    await far;
    await sleepUntil(Date.now() + DAY, { signal: ac.signal }); // already aborted: resolves at once
  });
});
