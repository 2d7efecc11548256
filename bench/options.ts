import { ALL_SIDES, type SideId } from "./types.js";

/** Sizes and switches of one benchmark run, from the command line. */
export interface BenchOptions {
  /** Smoke-test sizes (CI): few jobs, one round. */
  quick: boolean;
  /** Rounds per scenario; every side runs once per round, interleaved. @defaultValue 3 (quick: 1) */
  rounds: number;
  /** Jobs per throughput run. @defaultValue 50_000 (quick: 2_000) */
  jobs: number;
  /** Handler concurrencies of the processing scenario. @defaultValue [1, 10, 100] */
  concurrencies: number[];
  /** BullMQ `addBulk` chunk size. @defaultValue 1_000 */
  bulkChunk: number;
  /** In-flight publishes of raw JetStream's windowed publishing (jetq's enqueueMany uses 4096). @defaultValue 4_096 */
  publishWindow: number;
  /** Jobs of the enqueue→start latency scenario. @defaultValue 2_000 (quick: 500) */
  latencyJobs: number;
  /** Pace of the latency scenario, jobs per second. @defaultValue 1_000 */
  latencyRate: number;
  /** Delayed jobs of the lateness scenario. @defaultValue 10_000 (quick: 1_000) */
  delayedJobs: number;
  /** Due times are spread evenly over this many ms. @defaultValue 5_000 (quick: 1_000) */
  delayedSpreadMs: number;
  /** The first due time is this far after the run starts (time to enqueue them all). @defaultValue 2_000 (quick: 1_000) */
  delayedLeadMs: number;
  /** How long after the last due time to wait for stragglers. @defaultValue 5_000 (quick: 3_000) */
  delayedGraceMs: number;
  /** HTTP client counts of the gateway rows (emq deadlocks at 32). @defaultValue [1, 4] */
  gatewayClients: number[];
  /** How long the gateway rows enqueue, seconds. @defaultValue 5 (quick: 1) */
  gatewaySeconds: number;
  /** Schedules sent far ahead to time acceptance in the scheduler rows. @defaultValue 20_000 (quick: 2_000) */
  schedulerAccept: number;
  /** Fires per second of the scheduler lateness rows. @defaultValue 1_000 */
  schedulerRate: number;
  /** How many seconds the scheduler lateness rows fire. @defaultValue 3 (quick: 1) */
  schedulerSeconds: number;
  /** Output directory of latest.json and latest.svg. @defaultValue `bench/results` */
  out: string;
  /** Only these scenario ids. @defaultValue all */
  only?: string[];
  /** Only these sides. @defaultValue all */
  sides: SideId[];
}

/** The `--help` text. */
export const USAGE = `usage: tsx bench/run.ts [options]
  --quick               smoke-test sizes (2,000 jobs, 1 round, short delayed scenario)
  --rounds <n>          rounds per scenario (default 3, quick 1)
  --jobs <n>            jobs per throughput run (default 50000, quick 2000)
  --concurrency <list>  handler concurrencies, comma-separated (default 1,10,100)
  --only <list>         scenario ids, comma-separated (enqueue, process, drain, latency, raw, delayed, delayed-tasks, gateway, scheduler)
  --sides <list>        sides, comma-separated (jetq, bullmq, bullmq-aof, raw, asyncjobs, emq, gozo)
  --out <dir>           output directory (default bench/results)
  --help                this text`;

function positiveInt(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function list(flag: string, v: string | undefined): string[] {
  const items = (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new Error(`${flag} needs a comma-separated list`);
  return items;
}

/** Parses command-line arguments (without `node` and the script). @throws Error on a bad flag */
export function parseOptions(argv: readonly string[]): BenchOptions | "help" {
  const quick = argv.includes("--quick");
  const o: BenchOptions = {
    quick,
    rounds: quick ? 1 : 3,
    jobs: quick ? 2_000 : 50_000,
    concurrencies: [1, 10, 100],
    bulkChunk: 1_000,
    publishWindow: 4_096,
    latencyJobs: quick ? 500 : 2_000,
    latencyRate: 1_000,
    delayedJobs: quick ? 1_000 : 10_000,
    delayedSpreadMs: quick ? 1_000 : 5_000,
    delayedLeadMs: quick ? 1_000 : 2_000,
    delayedGraceMs: quick ? 3_000 : 5_000,
    gatewayClients: [1, 4],
    gatewaySeconds: quick ? 1 : 5,
    schedulerAccept: quick ? 2_000 : 20_000,
    schedulerRate: 1_000,
    schedulerSeconds: quick ? 1 : 3,
    out: "bench/results",
    sides: [...ALL_SIDES],
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => argv[++i];
    switch (flag) {
      case "--quick":
        break;
      case "--help":
      case "-h":
        return "help";
      case "--rounds":
        o.rounds = positiveInt(flag, value());
        break;
      case "--jobs":
        o.jobs = positiveInt(flag, value());
        break;
      case "--concurrency":
        o.concurrencies = list(flag, value()).map((c) => positiveInt(flag, c));
        break;
      case "--only":
        o.only = list(flag, value());
        break;
      case "--sides": {
        const sides = list(flag, value());
        const bad = sides.filter((s) => !(ALL_SIDES as readonly string[]).includes(s));
        if (bad.length > 0) throw new Error(`unknown side(s) ${bad.join(", ")}; use ${ALL_SIDES.join(", ")}`);
        o.sides = sides as SideId[];
        break;
      }
      case "--out": {
        const dir = value();
        if (!dir) throw new Error("--out needs a directory");
        o.out = dir;
        break;
      }
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  return o;
}
