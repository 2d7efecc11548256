import type { Style } from "../ansi.js";
import type { Task } from "../jobs/task.js";
import { fields, paintState, table, when } from "./output.js";

/** Longest payload or result text shown (the JSON answer has it whole). */
const MAX_SHOWN = 2000;

function shown(v: unknown): string {
  const text = v instanceof Uint8Array ? `<${v.byteLength} bytes>` : JSON.stringify(v, null, 2);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}… (${text.length} chars; --json shows all)` : text;
}

/** A task for people: its fields, payload, result, failed tries and log lines. */
export function taskText(style: Style, task: Task): string {
  const parts = [
    fields(style, [
      ["id", style.paint("1", task.id)],
      ["type", task.type],
      ["queue", task.queue],
      ["state", paintState(style, task.state)],
      ["priority", task.priority],
      ["tries", `${task.tries}${task.maxTries > 0 ? ` of ${task.maxTries}` : ""}`],
      ["created", when(task.createdAt)],
      ["last try", when(task.lastTriedAt)],
      ["run at", when(task.runAt)],
      ["deadline", when(task.deadline)],
      ["depends on", task.dependencies?.join(", ")],
      ["signed", task.signature === undefined ? undefined : "yes"],
      ["last error", task.lastError === undefined ? undefined : style.paint("31", task.lastError)],
      ["progress", task.progress === undefined ? undefined : JSON.stringify(task.progress)],
      ["completed", when(task.result?.completedAt)],
    ]),
    `${style.paint("2", "payload")}\n${shown(task.payload)}`,
  ];
  if (task.result) parts.push(`${style.paint("2", "result")}\n${shown(task.result.value)}`);
  if (task.failures?.length)
    parts.push(
      `${style.paint("2", "failed tries")}\n${table(
        style,
        ["TRY", "AT", "ERROR"],
        task.failures.map((f) => [f.try, when(f.at), f.error.slice(0, 100)]),
      )}`,
    );
  if (task.logs?.length)
    parts.push(`${style.paint("2", "log")}\n${task.logs.map((l) => `${when(l.at)}  ${l.line}`).join("\n")}`);
  return parts.join("\n\n");
}
