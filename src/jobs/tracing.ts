/**
 * OpenTelemetry tracing of tasks, through `@opentelemetry/api` when it is installed (an optional
 * peer dependency; without it every function here does nothing). The W3C trace context of the
 * enqueue travels in the task (`Task.traceContext`), so the spans of its tries, wherever they run,
 * belong to the producer's trace. See docs/tracing.md.
 */
import { createRequire } from "node:module";
import type * as Otel from "@opentelemetry/api";
import { errorMessage } from "../errors.js";
import { isThenable } from "../thenable.js";
import type { Task } from "./task.js";

/** The name jetq's spans are created under (`trace.getTracer`). */
export const TRACER_NAME = "jetq";

let api: typeof Otel | null | undefined;

/** The OpenTelemetry API, or null when it is not installed (looked up once). */
function otel(): typeof Otel | null {
  if (api === undefined) {
    try {
      api = createRequire(import.meta.url)("@opentelemetry/api") as typeof Otel;
    } catch {
      api = null;
    }
  }
  return api;
}

/**
 * The OpenTelemetry API when a tracer provider is registered, else null: without one every span
 * would be a no-op, so none is made (a task's trace context passes through unchanged).
 */
function tracing(): typeof Otel | null {
  const o = otel();
  if (!o) return null;
  const provider = o.trace.getTracerProvider();
  if (provider instanceof o.ProxyTracerProvider && provider.getDelegateTracer(TRACER_NAME) === undefined) return null;
  return o;
}

/** A span jetq started (or nothing, when tracing is off). */
export interface TaskSpan {
  /** Runs `fn` with this span as the active one (its spans, and enqueues it makes, are children). */
  run<T>(fn: () => T): T;
  /** Sets an attribute. */
  set(key: string, value: string | number | boolean): void;
  /** Ends the span; with `err`, recording it and marking the span failed. */
  end(err?: unknown): void;
}

const NOOP: TaskSpan = { run: (fn) => fn(), set: () => undefined, end: () => undefined };

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
/** Longest `tracestate` kept (W3C: at most 32 members of 256 characters; 512 is what most keep). */
const MAX_TRACESTATE = 512;

/**
 * A trace context as carried in a task: `traceparent` (W3C) and `tracestate`, and nothing else;
 * anything malformed is dropped (a task from outside must not carry junk into a tracer).
 */
export function cleanTraceContext(v: unknown): Record<string, string> | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const { traceparent, tracestate } = v as Record<string, unknown>;
  if (typeof traceparent !== "string" || !parseTraceparent(traceparent)) return undefined;
  return typeof tracestate === "string" && tracestate.length <= MAX_TRACESTATE && !/[\p{Cc}]/u.test(tracestate)
    ? { traceparent, tracestate }
    : { traceparent };
}

function parseTraceparent(s: string): { traceId: string; spanId: string; traceFlags: number } | undefined {
  const m = TRACEPARENT.exec(s);
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16) };
}

/**
 * The context a carrier (a task's trace context, an HTTP request's headers) names, on top of the
 * active one: through the registered propagator, else read as W3C `traceparent` directly.
 */
function contextFrom(o: typeof Otel, carrier: Record<string, string> | undefined): Otel.Context {
  const active = o.context.active();
  if (!carrier) return active;
  const extracted = o.propagation.extract(active, carrier);
  if (o.trace.getSpanContext(extracted)) return extracted;
  const p = carrier.traceparent ? parseTraceparent(carrier.traceparent) : undefined;
  if (!p) return active;
  return o.trace.setSpanContext(active, {
    ...p,
    isRemote: true,
    ...(carrier.tracestate ? { traceState: o.createTraceState(carrier.tracestate) } : {}),
  });
}

/** The W3C trace context of a span: through the registered propagator, else written directly. */
function carrierOf(o: typeof Otel, ctx: Otel.Context): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  o.propagation.inject(ctx, carrier);
  const clean = cleanTraceContext(carrier);
  if (clean) return clean;
  const sc = o.trace.getSpanContext(ctx);
  if (!sc || !o.isSpanContextValid(sc)) return undefined;
  const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, "0");
  const state = sc.traceState?.serialize();
  return { traceparent: `00-${sc.traceId}-${sc.spanId}-${flags}`, ...(state ? { tracestate: state } : {}) };
}

function wrap(o: typeof Otel, span: Otel.Span, ctx: Otel.Context): TaskSpan {
  const inSpan = o.trace.setSpan(ctx, span);
  return {
    run: (fn) => o.context.with(inSpan, fn),
    set: (k, v) => {
      span.setAttribute(k, v);
    },
    end: (err) => {
      if (err !== undefined) {
        span.recordException(err instanceof Error ? err : String(err));
        span.setStatus({ code: o.SpanStatusCode.ERROR, message: errorMessage(err) });
      }
      span.end();
    },
  };
}

function taskAttributes(task: Task): Otel.Attributes {
  return {
    "messaging.system": "jetq",
    "messaging.destination.name": task.queue,
    "messaging.message.id": task.id,
    "jetq.task.type": task.type,
    "jetq.task.priority": task.priority,
  };
}

/**
 * Starts the span of writing `task` to its queue (`send`, kind PRODUCER) — an enqueue, or `put`
 * for a task whose wait ended (delayed, blocked, a cron tick, a retry) — and writes its context
 * into the task, replacing what it carried. Its parent is the trace context the task carries (the
 * producer's, for a task put in its queue later), else the active context.
 */
export function traceEnqueue(task: Task, operation: "enqueue" | "put"): TaskSpan {
  const o = tracing();
  if (!o) return NOOP;
  const parent = contextFrom(o, task.traceContext);
  const span = o.trace.getTracer(TRACER_NAME).startSpan(
    `${operation} ${task.queue}`,
    {
      kind: o.SpanKind.PRODUCER,
      attributes: { ...taskAttributes(task), "messaging.operation.type": "send", "jetq.operation": operation },
    },
    parent,
  );
  const carried = carrierOf(o, o.trace.setSpan(parent, span));
  if (carried) task.traceContext = carried;
  return wrap(o, span, parent);
}

/**
 * Starts the span of one try of `task` (`process`, kind CONSUMER), a child of the trace context the
 * task carries; undefined when tracing is off (a worker then calls the handler as it is, without
 * the closures a span needs). Run the handler inside it with {@link inHandlerSpan}.
 */
export function traceTry(task: Task): TaskSpan | undefined {
  const o = tracing();
  if (!o) return undefined;
  const parent = contextFrom(o, task.traceContext);
  const span = o.trace.getTracer(TRACER_NAME).startSpan(
    `process ${task.queue}`,
    {
      kind: o.SpanKind.CONSUMER,
      attributes: { ...taskAttributes(task), "messaging.operation.type": "process", "jetq.task.try": task.tries },
    },
    parent,
  );
  return wrap(o, span, parent);
}

/** Starts the span of the handler of a try (kind INTERNAL), in the active context (the try's span). */
export function traceHandler(task: Task): TaskSpan {
  const o = tracing();
  if (!o) return NOOP;
  const ctx = o.context.active();
  const span = o.trace
    .getTracer(TRACER_NAME)
    .startSpan(
      `handle ${task.type}`,
      { attributes: { "jetq.task.type": task.type, "messaging.message.id": task.id } },
      ctx,
    );
  return wrap(o, span, ctx);
}

/**
 * Runs a handler inside its span (see {@link traceHandler}): ended when it settles, failed when it
 * throws or rejects. Returns what the handler returns (a promise only when it returned one); with
 * tracing off it only calls the handler.
 */
export function inHandlerSpan<T>(task: Task, handler: () => T | PromiseLike<T>): T | PromiseLike<T> {
  const span = traceHandler(task);
  if (span === NOOP) return handler();
  let out: T | PromiseLike<T>;
  try {
    out = span.run(handler);
  } catch (err) {
    span.end(err);
    throw err;
  }
  if (!isThenable(out)) {
    span.end();
    return out;
  }
  return Promise.resolve(out).then(
    (r) => {
      span.end();
      return r;
    },
    (err: unknown) => {
      span.end(err);
      throw err;
    },
  );
}
