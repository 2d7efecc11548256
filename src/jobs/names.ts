import { ValidationError } from "../errors.js";

/**
 * Names that become part of NATS subjects or stream names: letters, digits, `_` and `-`.
 * Dots, wildcards (`*`, `>`), whitespace and path separators are refused so that no name can
 * add or widen a subject token.
 */
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Task types may also use `:` (as in `email:send`), which is inert in subjects. */
const TASK_TYPE = /^[A-Za-z0-9_:-]{1,128}$/;
/** Task and schedule ids: one subject token. */
const ID = /^[A-Za-z0-9_:-]{1,128}$/;

function check(kind: string, code: string, re: RegExp, value: unknown, rule: string): string {
  if (typeof value !== "string" || !re.test(value)) {
    const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 80)) : typeof value;
    throw new ValidationError(code, `invalid ${kind} ${shown}: ${rule}`);
  }
  return value;
}

/** Returns `name` when it is a valid queue name, else throws a {@link ValidationError} (`invalid_queue_name`). */
export function validateQueueName(name: unknown): string {
  return check("queue name", "invalid_queue_name", QUEUE_NAME, name, "use 1-64 of A-Z a-z 0-9 _ -");
}

/** Returns `type` when it is a valid task type, else throws a {@link ValidationError} (`invalid_task_type`). */
export function validateTaskType(type: unknown): string {
  return check("task type", "invalid_task_type", TASK_TYPE, type, "use 1-128 of A-Z a-z 0-9 _ : -");
}

/** Returns `id` when it is a valid task or schedule id, else throws a {@link ValidationError} (`invalid_id`). */
export function validateId(id: unknown): string {
  return check("id", "invalid_id", ID, id, "use 1-128 of A-Z a-z 0-9 _ : -");
}

/** True when `name` is a valid queue name. */
export function isValidQueueName(name: unknown): name is string {
  return typeof name === "string" && QUEUE_NAME.test(name);
}

/** True when `type` is a valid task type. */
export function isValidTaskType(type: unknown): type is string {
  return typeof type === "string" && TASK_TYPE.test(type);
}

/** True when `id` is a valid task id. */
export function isValidId(id: unknown): id is string {
  return typeof id === "string" && ID.test(id);
}

/** A control character: C0 (U+0000–U+001F), DEL (U+007F) or C1 (U+0080–U+009F). */
const CONTROL = /\p{Cc}/u;

/** True when `s` holds a control character (C0, DEL or C1). */
export function hasControlCharacter(s: string): boolean {
  return CONTROL.test(s);
}
