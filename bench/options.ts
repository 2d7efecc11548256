import { ALL_SIDES, type SideId } from "./types.js";

/** Sizes and switches of one benchmark run, from the command line. */
export interface BenchOptions {
  /** Smoke-test sizes (CI): few jobs, one round. */
  quick: boolean;
  /** Rounds per scenario; every side runs once per round, interleaved. @defaultValue 3 (quick: 1) */
  rounds: number;
  /** Jobs per throughput run. @defaultValue 50_000 (quick: 1_000) */
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
  /** Keep-alive HTTP client counts of the HTTP rows (emq routes and REST). @defaultValue [1, 16] */
  httpClients: number[];
  /** How long the HTTP rows enqueue, seconds. @defaultValue 5 (quick: 1) */
  httpSeconds: number;
  /** Wake-ups timed by the one-client HTTP row (an enqueue answering a blocked wait). @defaultValue 200 (quick: 20) */
  wakes: number;
  /** Tasks per outbox run (each of its three phases). @defaultValue 10_000 (quick: 500) */
  outboxJobs: number;
  /** Queues the scale row creates, with a task through each. @defaultValue 1_000 (quick: 20) */
  scaleQueues: number;
  /** Queues of the idle worker in the scale row (the first of those created). @defaultValue 300 (quick: 10) */
  idleQueues: number;
  /** How long the scale row measures nats-server's CPU with the idle worker, seconds. @defaultValue 20 (quick: 2) */
  idleSeconds: number;
  /** Schedules sent far ahead to time acceptance in the scheduler rows. @defaultValue 20_000 (quick: 2_000) */
  schedulerAccept: number;
  /** Fires per second of the scheduler lateness rows. @defaultValue 1_000 */
  schedulerRate: number;
  /** How many seconds the scheduler lateness rows fire. @defaultValue 3 (quick: 1) */
  schedulerSeconds: number;
  /**
   * The nats-servers to run on, one whole run each (`--nats-server`, repeatable; `--both`: every
   * version found). @defaultValue the newest found, as the tests pick it (`$JETQ_NATS_SERVER`, else
   * the newest of `.tools/bin/nats-server` and `nats-server` on PATH)
   */
  natsServers: string[];
  /** Run once on every nats-server version found (`.tools/bin` and PATH). @defaultValue false */
  both: boolean;
  /** Output directory of `latest-<server>.json`, `.md` and `.svg`. @defaultValue `bench/results` */
  out: string;
  /** Where the previous results of each server version are read for the regression check. @defaultValue `bench/results` */
  baseline: string;
  /** Only these scenario ids. @defaultValue all */
  only?: string[];
  /** Only these sides. @defaultValue all */
  sides: SideId[];
  /**
   * What is measured of jetq: `built`, the package compiled by tsc as its users run it; `source`
   * (`--source`), the TypeScript sources through tsx (see bench/jetq-build.ts). @defaultValue "built"
   */
  jetq: "built" | "source";
}

/** The `--help` text. */
export const USAGE = `usage: npm run bench -- [options]   (or: npx tsx bench/run.ts [options])
  --quick               smoke-test sizes (1,000 jobs, 1 round, short delayed, HTTP, outbox and scale rows)
  --rounds <n>          rounds per scenario (default 3, quick 1)
  --jobs <n>            jobs per throughput run (default 50000, quick 1000)
  --concurrency <list>  handler concurrencies, comma-separated (default 1,10,100)
  --http-clients <list> HTTP client counts, comma-separated (default 1,16)
  --outbox-jobs <n>     tasks per outbox phase (default 10000, quick 500)
  --scale-queues <n>    queues the scale row creates (default 1000, quick 20)
  --idle-queues <n>     queues of the scale row's idle worker (default 300, quick 10)
  --idle-seconds <n>    how long the idle worker's server CPU is measured (default 20, quick 2)
  --only <list>         scenario ids or families, comma-separated (enqueue, process, drain, latency, raw,
                        delayed, delayed-tasks, http, rest, outbox, scheduler, scale)
  --sides <list>        sides, comma-separated (jetq, bullmq, bullmq-aof, raw, asyncjobs, emq, gozo, library)
  --nats-server <path>  run on this nats-server (repeatable: one whole run each; default: the newest found)
  --both                one whole run on every nats-server version found (.tools/bin and PATH)
  --out <dir>           output directory (default bench/results)
  --baseline <dir>      previous results for the regression check (default bench/results)
  --source              measure jetq's TypeScript sources through tsx (default: the package built by tsc)
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
    jobs: quick ? 1_000 : 50_000,
    concurrencies: [1, 10, 100],
    bulkChunk: 1_000,
    publishWindow: 4_096,
    latencyJobs: quick ? 500 : 2_000,
    latencyRate: 1_000,
    delayedJobs: quick ? 1_000 : 10_000,
    delayedSpreadMs: quick ? 1_000 : 5_000,
    delayedLeadMs: quick ? 1_000 : 2_000,
    delayedGraceMs: quick ? 3_000 : 5_000,
    httpClients: [1, 16],
    httpSeconds: quick ? 1 : 5,
    wakes: quick ? 20 : 200,
    outboxJobs: quick ? 500 : 10_000,
    scaleQueues: quick ? 20 : 1_000,
    idleQueues: quick ? 10 : 300,
    idleSeconds: quick ? 2 : 20,
    schedulerAccept: quick ? 2_000 : 20_000,
    schedulerRate: 1_000,
    schedulerSeconds: quick ? 1 : 3,
    natsServers: [],
    both: false,
    out: "bench/results",
    baseline: "bench/results",
    sides: [...ALL_SIDES],
    jetq: "built",
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => argv[++i];
    switch (flag) {
      case "--quick":
        break;
      case "--source":
        o.jetq = "source";
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
      case "--http-clients":
        o.httpClients = list(flag, value()).map((c) => positiveInt(flag, c));
        break;
      case "--outbox-jobs":
        o.outboxJobs = positiveInt(flag, value());
        break;
      case "--scale-queues":
        o.scaleQueues = positiveInt(flag, value());
        break;
      case "--idle-queues":
        o.idleQueues = positiveInt(flag, value());
        break;
      case "--idle-seconds":
        o.idleSeconds = positiveInt(flag, value());
        break;
      case "--nats-server": {
        const path = value();
        if (!path) throw new Error("--nats-server needs the path of a nats-server binary");
        o.natsServers.push(path);
        break;
      }
      case "--both":
        o.both = true;
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
      case "--baseline": {
        const dir = value();
        if (!dir) throw new Error("--baseline needs a directory");
        o.baseline = dir;
        break;
      }
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  if (o.both && o.natsServers.length > 0) throw new Error("--both and --nats-server exclude each other");
  o.idleQueues = Math.min(o.idleQueues, o.scaleQueues);
  return o;
}
