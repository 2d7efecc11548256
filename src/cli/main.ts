#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { errorMessage, JetqError } from "../errors.js";
import { jetqVersion } from "../version.js";
import { registerCronCommands } from "./cron.js";
import { registerDeadLetterCommands } from "./dead-letters.js";
import { applyEnvFiles } from "./env-files.js";
import { exitCodeOf } from "./exit-codes.js";
import { registerInfoCommand } from "./info.js";
import { registerQueueCommands } from "./queue.js";
import { registerScheduleCommands } from "./schedule.js";
import { registerServe } from "./serve.js";
import { registerTaskCommands } from "./task.js";

applyEnvFiles();
const program = new Command("jetq")
  .description("durable jobs and scheduled messages on NATS JetStream")
  .version(jetqVersion(), "-V, --version")
  .showSuggestionAfterError()
  .exitOverride();
registerServe(program);
registerQueueCommands(program);
registerTaskCommands(program);
registerScheduleCommands(program);
registerCronCommands(program);
registerDeadLetterCommands(program);
registerInfoCommand(program);
program.addHelpText(
  "after",
  "\nExit codes: 0 ok, 1 unexpected failure, 2 bad usage or input, 3 not found, 4 refused by the target's state,\n" +
    "5 NATS or JetStream unreachable or failing, 6 a bulk operation partly failed, 130 interrupted. See docs/cli.md.",
);

program.parseAsync(process.argv).catch((err: unknown) => {
  // Commander has printed its own message (usage errors, --help, --version).
  if (err instanceof CommanderError) process.exit(exitCodeOf(err));
  const code = err instanceof JetqError ? err.code : "internal";
  const message = errorMessage(err);
  if (process.argv.includes("--json")) process.stdout.write(`${JSON.stringify({ error: code, message })}\n`);
  process.stderr.write(`jetq: ${message}${err instanceof JetqError ? ` [${code}]` : ""}\n`);
  process.exit(exitCodeOf(err));
});
