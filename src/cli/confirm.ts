import { createInterface } from "node:readline/promises";
import { ValidationError } from "../errors.js";

/**
 * Asks before destructive work: passes at once with `yes` (`--yes`); on a terminal asks `question`
 * and passes on "y" or "yes"; elsewhere (scripts) refuses, as there is nobody to ask.
 * @throws ValidationError (`confirmation_required`)
 */
export async function confirm(yes: boolean, question: string): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    throw new ValidationError("confirmation_required", `${question} Pass --yes to confirm.`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") throw new ValidationError("confirmation_required", "not confirmed");
  } finally {
    rl.close();
  }
}
