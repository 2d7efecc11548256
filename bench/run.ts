/**
 * `npm run bench` — every face of jetq (library, HTTP emq routes and REST, outbox, scheduler) against
 * raw JetStream, BullMQ and the real peers, in one table per nats-server (bench/harness.ts; see
 * bench/README.md). This entry first makes the process measure jetq as its users run it — compiled
 * by tsc (bench/jetq-build.ts) — unless `--source` is given, then loads the harness.
 */
import { useBuiltJetq } from "./jetq-build.js";

const args = process.argv.slice(2);
if (!args.includes("--source") && !args.includes("--help") && !args.includes("-h")) {
  try {
    useBuiltJetq();
  } catch (err) {
    process.stderr.write(`[bench] ${(err as Error).message}\n`);
    process.exit(1);
  }
}
await import("./harness.js");
