/** Whether `v` is a promise or any other thenable to wait for (a handler may return either, or a plain value). */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null | undefined)?.then === "function";
}
