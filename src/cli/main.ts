#!/usr/bin/env node
import { Command } from "commander";
import { JetqError } from "../errors.js";
import { registerAdmin } from "./admin.js";
import { applyEnvFiles } from "./env-files.js";
import { registerServe } from "./serve.js";

applyEnvFiles();
const program = new Command("jetq").description("durable jobs and scheduled messages on NATS JetStream");
registerServe(program);
registerAdmin(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const code = err instanceof JetqError ? ` [${err.code}]` : "";
  process.stderr.write(`jetq: ${err instanceof Error ? err.message : String(err)}${code}\n`);
  process.exit(1);
});
