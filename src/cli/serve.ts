import { type Command, Option } from "commander";
import { parseDuration } from "../duration.js";
import { ConfigError } from "../errors.js";
import { loadTokens } from "../gateway/auth.js";
import type { GatewayLimits } from "../gateway/limits.js";
import { parseListenAddress } from "../gateway/listen-address.js";
import { createLogger } from "../logger.js";
import { LOG_LEVELS } from "../pretty-log.js";
import { type JetqHttpOptions, JetqService } from "../server/jetq-service.js";
import { addNatsFlags, type NatsFlags, natsOptionsFromFlags } from "./nats-flags.js";

interface ServeFlags extends NatsFlags {
  subject: string;
  data: string;
  http?: string;
  httpTokenFile?: string;
  httpMaxBody?: string;
  httpMaxWait?: string;
  httpMaxPeek?: string;
  httpMaxAck?: string;
  natsPort: string;
  replicas?: string;
  maxDelay?: string;
  metrics?: string;
  ui?: string;
  uiReadOnly?: boolean;
  allowTarget?: string[];
  httpCreateQueues?: string;
  httpMaxNewQueues?: string;
  logLevel?: string;
  logFormat?: string;
  signingSeedFile?: string;
  verificationKeyFile?: string;
  signaturesOptional?: boolean;
}

/** Address of the HTTP gateway when neither `--http` nor `JETQ_HTTP` names one. */
export const DEFAULT_HTTP_ADDRESS = "127.0.0.1:8080";

function positiveInt(flag: string, v: string): number {
  const n = /^\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new ConfigError("invalid_flag", `${flag} must be a positive integer, got ${v}`);
  return n;
}

function durationFlag(flag: string, v: string): number {
  try {
    return parseDuration(/^\d+$/.test(v) ? Number(v) : v);
  } catch (err) {
    throw new ConfigError("invalid_flag", `${flag}: ${(err as Error).message}`);
  }
}

function listenFlag(flag: string, v: string): { host: string; port: number } {
  const a = parseListenAddress(v);
  if (!a) throw new ConfigError("invalid_flag", `${flag} needs host:port`);
  return a;
}

/**
 * The HTTP gateway settings of the flags, or false for `--http off`. Tokens come from
 * `--http-token-file` and from `JETQ_HTTP_TOKENS` (comma-separated) together.
 * @throws ConfigError for a malformed address, limit or an unreadable token file
 */
export function httpOptionsFromFlags(f: ServeFlags, env: NodeJS.ProcessEnv = process.env): JetqHttpOptions | false {
  const address = parseListenAddress(f.http ?? DEFAULT_HTTP_ADDRESS);
  if (!address) return false;
  const ui = (f.ui ?? "on").trim().toLowerCase();
  if (ui !== "on" && ui !== "off") throw new ConfigError("invalid_flag", `--ui must be on or off, got ${f.ui}`);
  const limits: Partial<GatewayLimits> = {};
  if (f.httpMaxBody !== undefined) limits.bodyBytes = positiveInt("--http-max-body", f.httpMaxBody);
  if (f.httpMaxWait !== undefined) limits.waitTimeoutMs = durationFlag("--http-max-wait", f.httpMaxWait);
  if (f.httpMaxPeek !== undefined) limits.peekN = positiveInt("--http-max-peek", f.httpMaxPeek);
  if (f.httpMaxAck !== undefined) limits.ackIds = positiveInt("--http-max-ack", f.httpMaxAck);
  if (f.httpMaxNewQueues !== undefined)
    limits.newQueuesPerMinute = positiveInt("--http-max-new-queues", f.httpMaxNewQueues);
  const create = (f.httpCreateQueues ?? "on").trim().toLowerCase();
  if (create !== "on" && create !== "off")
    throw new ConfigError("invalid_flag", `--http-create-queues must be on or off, got ${f.httpCreateQueues}`);
  return {
    ...address,
    tokens: loadTokens({
      ...(f.httpTokenFile ? { file: f.httpTokenFile } : {}),
      ...(env.JETQ_HTTP_TOKENS ? { list: env.JETQ_HTTP_TOKENS } : {}),
    }),
    limits,
    ui: { enabled: ui === "on", readOnly: f.uiReadOnly === true },
    createQueues: create === "on",
    // The built-in default address may be taken (say, by a second instance): then run without HTTP.
    optional: f.http === undefined,
  };
}

/** `jetq serve`: the scheduler and gateway service, on an embedded nats-server unless `-a` is given. */
export function registerServe(program: Command): void {
  const cmd = program.command("serve").description("run the jetq service (scheduler, HTTP gateway) on NATS");
  addNatsFlags(cmd)
    .addOption(new Option("--subject <subject>", "subject the Gozo-compatible scheduler listens on").default("gozo"))
    .addOption(
      new Option("--data <dir>", "data directory of the embedded nats-server").default(".jetq").env("JETQ_DATA"),
    )
    .addOption(
      new Option("--http <host:port>", `HTTP gateway address, or "off" (default ${DEFAULT_HTTP_ADDRESS})`).env(
        "JETQ_HTTP",
      ),
    )
    .addOption(
      new Option(
        "--http-token-file <file>",
        "file of accepted bearer tokens, one per line (also JETQ_HTTP_TOKENS, comma-separated)",
      ).env("JETQ_HTTP_TOKEN_FILE"),
    )
    .addOption(new Option("--http-max-body <bytes>", "largest HTTP request body (default 1048576)"))
    .addOption(new Option("--http-max-wait <duration>", "longest /wait timeout, ms or e.g. 60s (default 60s)"))
    .addOption(new Option("--http-max-peek <n>", "largest /peek n (default 1000)"))
    .addOption(new Option("--http-max-ack <n>", "most ids per /ack or /nak (default 1000)"))
    .addOption(
      new Option(
        "--http-create-queues <on|off>",
        "whether POST /enqueue/<queue> creates missing queues (default on)",
      ).env("JETQ_HTTP_CREATE_QUEUES"),
    )
    .addOption(new Option("--http-max-new-queues <n>", "most queues created over HTTP per minute (default 60)"))
    .addOption(new Option("--nats-port <port>", "port of the embedded nats-server (0 = any free port)").default("4222"))
    .addOption(
      new Option("--replicas <n>", "replicas of the streams jetq creates (1, 3 or 5)")
        .default("1")
        .env("JETQ_REPLICAS"),
    )
    .addOption(
      new Option("--max-delay <duration>", "schedules further ahead are refused")
        .default("3650d")
        .env("JETQ_MAX_DELAY"),
    )
    .addOption(new Option("--metrics <host:port>", "serve Prometheus metrics at /metrics").env("JETQ_METRICS"))
    .addOption(new Option("--ui <on|off>", "the web dashboard at /ui on the HTTP gateway (default on)").env("JETQ_UI"))
    .addOption(
      new Option("--ui-read-only", "dashboard without actions (they are hidden and refused)").env("JETQ_UI_READ_ONLY"),
    )
    .addOption(
      new Option(
        "--allow-target <pattern>",
        "let schedules publish to subjects matching this pattern although the policy refuses them (repeatable)",
      ).argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .addOption(
      new Option(
        "--signing-seed-file <file>",
        "sign every task the service enqueues (REST, emq, cron, released, delayed, redriven) with this ed25519 seed",
      ).env("JETQ_SIGNING_SEED_FILE"),
    )
    .addOption(
      new Option(
        "--verification-key-file <file>",
        "terminate tasks taken over HTTP /wait whose signature does not verify with this ed25519 public key",
      ).env("JETQ_VERIFICATION_KEY_FILE"),
    )
    .addOption(
      new Option(
        "--signatures-optional",
        "with --verification-key-file: accept unsigned tasks (signed ones are checked)",
      ),
    )
    .addOption(new Option("--log-level <level>", "least severe level logged").choices(LOG_LEVELS).env("JETQ_LOG_LEVEL"))
    .addOption(
      new Option(
        "--log-format <format>",
        "pretty: readable lines; json: one JSON object per line; auto: pretty on a terminal",
      )
        .choices(["auto", "pretty", "json"])
        .env("JETQ_LOG_FORMAT"),
    )
    .action(async (flags: ServeFlags) => {
      const log = createLogger({
        ...(flags.logLevel ? { level: flags.logLevel } : {}),
        ...(flags.logFormat ? { format: flags.logFormat } : {}),
      });
      const service = new JetqService({
        nats: natsOptionsFromFlags(flags),
        dataDir: flags.data,
        embeddedPort: Number(flags.natsPort),
        subject: flags.subject,
        http: httpOptionsFromFlags(flags),
        replicas: positiveInt("--replicas", flags.replicas ?? "1"),
        maxFutureMs: durationFlag("--max-delay", flags.maxDelay ?? "3650d"),
        ...(flags.allowTarget ? { allowTargets: flags.allowTarget } : {}),
        ...(flags.metrics ? { metrics: listenFlag("--metrics", flags.metrics) } : {}),
        tasks: {
          ...(flags.signingSeedFile ? { signingSeedFile: flags.signingSeedFile } : {}),
          ...(flags.verificationKeyFile ? { verificationKeyFile: flags.verificationKeyFile } : {}),
          ...(flags.signaturesOptional ? { signaturesOptional: true } : {}),
        },
        log,
      });
      await service.start();
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info("shutting down", { signal });
        service.stop().then(
          () => process.exit(0),
          (err: Error) => {
            log.error("shutdown failed", { error: err.message });
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
    });
}
