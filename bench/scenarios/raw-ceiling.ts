/**
 * The raw JetStream ceiling: what the server and client library do without jetq on top.
 * - publish: N pipelined `js.publish` calls (a window of in-flight acknowledgements) to a
 *   work-queue stream, from the first call to the last acknowledgement;
 * - consume+ack: N messages already in the stream, pull consumer `consume()` with an ack per
 *   message, from starting the consumer to an empty stream.
 */
import { until } from "../clock.js";
import { Stopwatch } from "../cpu.js";
import { RawQueue, rawPayload } from "../sides/raw.js";
import { ratePerSecond } from "../stats.js";
import { type BenchContext, type Scenario, type SideId, type SideRun, SideUnavailable } from "../types.js";

/** Consumer settings of the ceiling: large pulls and ack window, to find the library's limit. */
const MAX_MESSAGES = 1_000;
const MAX_ACK_PENDING = 10_000;

/** Raw JetStream publish and consume+ack rates. */
export const rawCeilingScenario: Scenario = {
  id: "raw",
  title: "raw JetStream ceiling",
  description:
    "Plain JetStream, no jetq: pipelined js.publish (window of acks) and consume()+ack of a full stream (pulls of 1000).",
  metrics: [
    { id: "publish", title: "raw async publish", unit: "msgs/s", better: "higher" },
    { id: "consume", title: "raw consume+ack", unit: "msgs/s", better: "higher" },
  ],
  sides: ["raw"],
  async run(side: SideId, ctx: BenchContext): Promise<SideRun> {
    if (side !== "raw") throw new SideUnavailable("raw JetStream only");
    const n = ctx.options.jobs;
    const raw = await RawQueue.open(ctx.servers.nats.url, MAX_ACK_PENDING);
    try {
      const pid = ctx.servers.serverPid("raw");
      const pubWatch = new Stopwatch(pid).start();
      await raw.publishWindowed(n, ctx.options.publishWindow, rawPayload);
      const pub = pubWatch.stop();
      let consumed = 0;
      const conWatch = new Stopwatch(pid).start();
      const messages = await raw.consume(MAX_MESSAGES, () => {
        consumed++;
      });
      try {
        await until(() => consumed >= n, 300_000, "raw messages consumed", 2);
        await raw.drained(300_000);
      } finally {
        await messages.close();
      }
      const con = conWatch.stop();
      return {
        values: { publish: ratePerSecond(n, pub.ms), consume: ratePerSecond(n, con.ms) },
        detail: {
          publishMs: Math.round(pub.ms),
          publishClientCpuMs: pub.cpu.clientCpuMs,
          publishServerCpuMs: pub.cpu.serverCpuMs ?? Number.NaN,
          consumeMs: Math.round(con.ms),
          consumeClientCpuMs: con.cpu.clientCpuMs,
          consumeServerCpuMs: con.cpu.serverCpuMs ?? Number.NaN,
        },
      };
    } finally {
      await raw.close();
    }
  },
};
