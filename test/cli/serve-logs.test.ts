import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { createLogger } from "../../src/logger.js";
import { formatPrettyLine } from "../../src/pretty-log.js";
import { useNatsServer } from "../support/nats.js";
import { startServe } from "../support/serve-process.js";

const nats = useNatsServer();
const main = new URL("../../src/cli/main.ts", import.meta.url).pathname;

describe("jetq serve logs", () => {
  it("formats a readable line: time, level, component, message, fields, stack below", () => {
    const at = new Date(2026, 0, 2, 3, 4, 5, 67);
    const line = formatPrettyLine(
      "warn",
      "lost leadership",
      { component: "scheduler", election: "scheduler", error: "timed out", stack: "Error: x\n  at y" },
      { color: false, now: at },
    );
    assert.equal(
      line,
      '03:04:05.067 WARN  [scheduler] lost leadership election=scheduler error="timed out"\n    Error: x\n      at y\n',
    );
    assert.ok(formatPrettyLine("error", "m", {}, { color: true, now: at }).includes("\u001b[31;1mERROR"));
  });

  it("keeps each key once, a line's own field replacing its logger's binding, and drops lines below the level", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", format: "pretty", color: false, write: (l) => lines.push(l) });
    const child = log.child({ component: "http" }).child({ component: "scheduler", queue: "q1" });
    child.info("not shown");
    child.warn("shown", { queue: "q2" });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /WARN {2}\[scheduler\] shown queue=q2\n$/);
    assert.throws(() => createLogger({ level: "loud" }), { code: "invalid_log_level" });
    assert.throws(() => createLogger({ format: "xml" }), { code: "invalid_log_format" });
  });

  it("writes JSON lines (level as a word, RFC 3339 time, component once) when stderr is not a terminal", async () => {
    await nats.ready;
    const serve = await startServe(["-a", nats.server.url]);
    try {
      const entries = serve
        .log()
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => ({ raw: l, json: JSON.parse(l) as Record<string, unknown> }));
      const elected = entries.find((e) => e.json.msg === "elected leader" && e.json.component === "scheduler");
      assert.ok(elected, serve.log());
      assert.equal(elected.raw.match(/"component"/g)?.length, 1, elected.raw);
      assert.equal(elected.json.level, "info");
      assert.match(String(elected.json.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    } finally {
      await serve.kill();
    }
  });

  it("prints readable lines on a terminal, and JSON there with --log-format json", async () => {
    await nats.ready;
    const onTerminal = async (extra: string): Promise<string> => {
      const cmd = `${process.execPath} --import tsx ${main} serve -a ${nats.server.url} --http 127.0.0.1:0 ${extra}`;
      const child = spawn("script", ["-qfec", cmd, "/dev/null"], {
        stdio: ["pipe", "pipe", "inherit"],
        env: { ...process.env, JETQ_LOG_LEVEL: "info", NO_COLOR: "1" },
      });
      let out = "";
      const exited = once(child, "exit");
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready:\n${out}`)), 30_000);
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("jetq serve ready")) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.stdin!.write("\u0003"); // Ctrl-C on the terminal: SIGINT to jetq serve, which stops
      await exited;
      return out;
    };
    const pretty = await onTerminal("");
    assert.match(
      pretty,
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[http\] HTTP gateway listening url=http:\/\/127\.0\.0\.1:\d+ auth=none\r?$/m,
    );
    assert.doesNotMatch(pretty, /"level"/);
    const json = await onTerminal("--log-format json");
    assert.match(json, /^\{"level":"info","time":"[^"]+",.*"msg":"jetq serve ready"\}\r?$/m);
  });
});
