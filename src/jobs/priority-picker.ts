import { PRIORITY_LEVELS } from "./storage/layout.js";

/**
 * How many times in a row a priority level with work waiting may be passed over for more urgent
 * levels before it gets the next free slot.
 */
export const STARVATION_LIMIT = 10;

/**
 * Chooses the priority level a worker serves next. The rule: the most urgent level (lowest
 * number) with work waiting goes first, except that a level passed over {@link STARVATION_LIMIT}
 * times in a row while it had work waiting gets the next slot. So a saturated level 0 still lets
 * every other waiting level through once per {@link STARVATION_LIMIT} of its own tasks.
 */
export class PriorityPicker {
  private readonly skipped = new Array<number>(PRIORITY_LEVELS).fill(0);

  /** The level to serve given how many tasks wait at each level, or undefined when none wait. */
  pick(waiting: (level: number) => number): number | undefined {
    let urgent: number | undefined;
    let starving: number | undefined;
    for (let level = 0; level < PRIORITY_LEVELS; level++) {
      if (waiting(level) === 0) continue;
      urgent ??= level;
      if (starving === undefined && this.skipped[level]! >= STARVATION_LIMIT) starving = level;
    }
    if (urgent === undefined) return undefined;
    const chosen = starving ?? urgent;
    this.skipped[chosen] = 0;
    for (let level = chosen + 1; level < PRIORITY_LEVELS; level++) {
      if (waiting(level) > 0) this.skipped[level]!++;
    }
    return chosen;
  }
}
