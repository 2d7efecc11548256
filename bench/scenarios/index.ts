/** The benchmark's scenarios in the order they run, and selection by id. */
import type { BenchOptions } from "../options.js";
import type { Scenario } from "../types.js";
import { delayedScenario, delayedTasksScenario } from "./delayed.js";
import { enqueueBatched, enqueueSequential } from "./enqueue.js";
import { httpScenario, restScenario } from "./http.js";
import { latencyScenario } from "./latency.js";
import { outboxScenario } from "./outbox.js";
import { processScenario, rawRecordScenario } from "./process.js";
import { rawCeilingScenario } from "./raw-ceiling.js";
import { scaleScenario } from "./scale.js";
import { schedulerScenario } from "./scheduler.js";

/** Concurrency of the drain scenario (a pre-filled queue). */
export const DRAIN_CONCURRENCY = 100;
/** Concurrency of the raw floor with an outcome record: that of the row the CPU targets judge (process c=100). */
const RAW_RECORD_CONCURRENCY = 100;

/** Every scenario for these options, in run order (the scale rows last: they leave the server busiest). */
export function allScenarios(o: BenchOptions): Scenario[] {
  return [
    enqueueSequential,
    enqueueBatched,
    ...o.concurrencies.map((c) => processScenario("end-to-end", c)),
    processScenario("drain", DRAIN_CONCURRENCY),
    latencyScenario,
    rawCeilingScenario,
    rawRecordScenario(RAW_RECORD_CONCURRENCY),
    delayedScenario,
    delayedTasksScenario,
    ...o.httpClients.map(httpScenario),
    ...o.httpClients.map(restScenario),
    outboxScenario,
    schedulerScenario,
    scaleScenario(o),
  ];
}

/**
 * The scenarios selected by `--only`: an id matches itself and, as a prefix before `-`, a family
 * (`process` selects `process-c1`, `process-c10`, …). @throws Error for a selector matching nothing
 */
export function selectScenarios(o: BenchOptions): Scenario[] {
  const all = allScenarios(o);
  if (!o.only) return all;
  const picked = new Set<Scenario>();
  for (const sel of o.only) {
    const hits = all.filter((s) => s.id === sel || s.id.startsWith(`${sel}-`));
    if (hits.length === 0)
      throw new Error(`no scenario matches ${JSON.stringify(sel)}; ids: ${all.map((s) => s.id).join(", ")}`);
    for (const h of hits) picked.add(h);
  }
  return all.filter((s) => picked.has(s));
}
