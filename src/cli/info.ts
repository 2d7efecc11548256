/** `jetq info`: the NATS server, jetq's JetStream use, its streams and buckets, and the elected leaders. */
import type { Command } from "commander";
import { systemInfoView } from "../gateway/views.js";
import { systemInfo } from "../jobs/storage/system-info.js";
import { jetqVersion } from "../version.js";
import { adminAction } from "./admin-context.js";
import { fields, table } from "./output.js";

/** Bytes for people: `1.5 MiB`. */
function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** Registers `info` on the program. */
export function registerInfoCommand(program: Command): void {
  adminAction(
    program.command("info").description("server version, jetq's streams and buckets, storage used, elected leaders"),
    async (ctx) => {
      const i = await systemInfo(ctx.storage);
      const { style } = ctx.out;
      const text = [
        fields(style, [
          ["jetq", jetqVersion()],
          ["server", `${i.server.name} ${i.server.version}${i.server.cluster ? ` (cluster ${i.server.cluster})` : ""}`],
          [
            "storage used",
            `${bytes(i.jetqBytes)} by jetq, ${bytes(i.account.storageBytes)} file + ${bytes(i.account.memoryBytes)} memory in the account`,
          ],
          ["max payload", bytes(i.server.maxPayload)],
          ...i.leaders.map((l): [string, string] => [
            `${l.component} leader`,
            l.leader ?? style.paint("33", "none elected"),
          ]),
        ]),
        table(
          style,
          ["STREAM", "KIND", "MESSAGES", "BYTES", "CONSUMERS", "REPLICAS", "STORAGE"],
          i.streams.map((s) => [s.name, s.kind, s.messages, bytes(s.bytes), s.consumers, s.replicas, s.storage]),
          "no jetq streams yet",
        ),
      ].join("\n\n");
      return { json: { jetq_version: jetqVersion(), ...systemInfoView(i) }, text };
    },
  );
}
