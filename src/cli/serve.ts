import { type Command, Option } from "commander";
import { createLogger } from "../logger.js";
import { JetqService } from "../server/jetq-service.js";
import { addNatsFlags, type NatsFlags, natsOptionsFromFlags } from "./nats-flags.js";

interface ServeFlags extends NatsFlags {
  subject: string;
  data: string;
  http?: string;
  natsPort: string;
}

/** `jetq serve`: the scheduler and gateway service, on an embedded nats-server unless `-a` is given. */
export function registerServe(program: Command): void {
  const cmd = program.command("serve").description("run the jetq service (scheduler, HTTP gateway) on NATS");
  addNatsFlags(cmd)
    .addOption(new Option("--subject <subject>", "subject the Gozo-compatible scheduler listens on").default("gozo"))
    .addOption(
      new Option("--data <dir>", "data directory of the embedded nats-server").default(".jetq").env("JETQ_DATA"),
    )
    .addOption(new Option("--http <host:port>", "HTTP gateway address").env("JETQ_HTTP"))
    .addOption(new Option("--nats-port <port>", "port of the embedded nats-server (0 = any free port)").default("4222"))
    .action(async (flags: ServeFlags) => {
      const log = createLogger();
      const service = new JetqService({
        nats: natsOptionsFromFlags(flags),
        dataDir: flags.data,
        embeddedPort: Number(flags.natsPort),
        subject: flags.subject,
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
