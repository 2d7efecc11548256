import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { context, propagation, type SpanContext, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { newTask, Router, silentLogger, TaskState } from "../../src/index.js";
import { decodeTask, encodeTask } from "../../src/jobs/storage/task-codec.js";
import { SchedulerService } from "../../src/scheduler/scheduler-service.js";
import { startGateway, uniq } from "../gateway/gateway-support.js";
import { useNatsServer, waitUntil } from "../support/nats.js";
import { withWorker } from "../support/worker.js";

const nats = useNatsServer();
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

before(() => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
after(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const spans = () => exporter.getFinishedSpans();
const named = (prefix: string, id: string) =>
  spans().filter((s) => s.name.startsWith(prefix) && s.attributes["messaging.message.id"] === id);
const parentOf = (s: ReadableSpan): SpanContext | undefined => s.parentSpanContext;
const sameSpan = (a: SpanContext | undefined, b: SpanContext) => a?.traceId === b.traceId && a?.spanId === b.spanId;

describe("tracing", () => {
  it("an enqueue, each try and the handler are spans of the producer's trace", async () => {
    const q = uniq();
    let fail = true;
    const router = new Router().handle("traced", async () => {
      // The handler's own spans are children of jetq's handler span.
      trace.getTracer("app").startActiveSpan("app work", (s) => s.end());
      if (fail) {
        fail = false;
        throw new Error("first try fails");
      }
      return "ok";
    });
    await withWorker(nats.server.url, { name: q }, router, async (c, outcome) => {
      const root = trace.getTracer("app").startSpan("request");
      const task = await context.with(trace.setSpan(context.active(), root), () =>
        c.enqueue(newTask("traced", { n: 1 })),
      );
      root.end();
      assert.equal((await outcome(task.id)).state, TaskState.Complete);
      await waitUntil(() => named("process", task.id).length === 2, 10_000, "two try spans");

      const [enqueue] = named("enqueue", task.id);
      assert.ok(enqueue, "an enqueue span");
      assert.equal(enqueue.kind, SpanKind.PRODUCER);
      assert.ok(sameSpan(parentOf(enqueue), root.spanContext()), "the enqueue is a child of the producer's span");
      assert.equal(enqueue.attributes["messaging.destination.name"], q);
      assert.match(task.traceContext?.traceparent ?? "", new RegExp(`^00-${root.spanContext().traceId}-`));

      const tries = named("process", task.id).sort(
        (a, b) => Number(a.attributes["jetq.task.try"]) - Number(b.attributes["jetq.task.try"]),
      );
      assert.deepEqual(
        tries.map((s) => [s.kind, s.attributes["jetq.task.try"], s.attributes["jetq.task.state"], s.status.code]),
        [
          [SpanKind.CONSUMER, 1, TaskState.Retry, SpanStatusCode.ERROR],
          [SpanKind.CONSUMER, 2, TaskState.Complete, SpanStatusCode.UNSET],
        ],
      );
      for (const t of tries)
        assert.ok(sameSpan(parentOf(t), enqueue.spanContext()), "each try is a child of the enqueue");
      assert.equal(tries[0]!.status.message, "first try fails");

      const handlers = spans().filter(
        (s) => s.name === "handle traced" && s.attributes["messaging.message.id"] === task.id,
      );
      assert.equal(handlers.length, 2);
      for (const h of handlers)
        assert.ok(
          tries.some((t) => sameSpan(parentOf(h), t.spanContext())),
          "handler inside its try",
        );
      const work = spans().filter((s) => s.name === "app work");
      assert.ok(
        work.some((w) => handlers.some((h) => sameSpan(parentOf(w), h.spanContext()))),
        "app spans inside the handler",
      );
      assert.ok(
        [enqueue, ...tries, ...handlers].every((s) => s.spanContext().traceId === root.spanContext().traceId),
        "one trace",
      );
    });
  });

  it("a delayed task keeps the producer's trace: enqueue, then the scheduler's put, then its try", async () => {
    const q = uniq();
    await withWorker(
      nats.server.url,
      { name: q },
      new Router().handle("later", () => "done"),
      async (c, outcome) => {
        const scheduler = new SchedulerService({
          storage: c.storage,
          engine: c.engine,
          log: silentLogger,
          name: uniq(),
        });
        await scheduler.start();
        try {
          const root = trace.getTracer("app").startSpan("request");
          const task = await context.with(trace.setSpan(context.active(), root), () =>
            c.enqueue(newTask("later", null, { delayMs: 300 })),
          );
          root.end();
          assert.equal(task.state, TaskState.Delayed);
          assert.equal((await outcome(task.id)).state, TaskState.Complete);
          await waitUntil(() => named("process", task.id).length === 1, 10_000, "the try span");
          const [enqueue] = named("enqueue", task.id);
          const [put] = named("put", task.id);
          const [tryIt] = named("process", task.id);
          assert.ok(enqueue && put && tryIt);
          assert.ok(sameSpan(parentOf(enqueue), root.spanContext()));
          assert.ok(sameSpan(parentOf(put), enqueue.spanContext()), "the fire continues the enqueue");
          assert.ok(sameSpan(parentOf(tryIt), put.spanContext()), "the try follows the fire");
        } finally {
          await scheduler.stop();
        }
      },
    );
  });

  it("an HTTP enqueue continues the caller's traceparent", async () => {
    const g = await startGateway(nats.server);
    try {
      const q = uniq();
      assert.equal((await g.call("PUT", `/v1/queues/${q}`, {})).status, 201);
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const spanId = "00f067aa0ba902b7";
      const r = await g.call(
        "POST",
        `/v1/queues/${q}/tasks`,
        { type: "http" },
        { traceparent: `00-${traceId}-${spanId}-01` },
      );
      assert.equal(r.status, 201);
      const id = (r.body as { task: { id: string } }).task.id;
      const [enqueue] = named("enqueue", id);
      assert.ok(enqueue, "an enqueue span");
      assert.equal(enqueue.spanContext().traceId, traceId);
      assert.equal(parentOf(enqueue)?.spanId, spanId);
      assert.equal(parentOf(enqueue)?.isRemote, true);
    } finally {
      await g.close();
    }
  });

  it("a work item's trace context is kept only when it is a valid W3C traceparent", () => {
    const base = newTask("t", null);
    base.queue = "q";
    const roundTrip = (traceContext: unknown) =>
      decodeTask(encodeTask({ ...base, traceContext: traceContext as Record<string, string> })).traceContext;
    const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert.deepEqual(roundTrip({ traceparent: tp, tracestate: "a=1" }), { traceparent: tp, tracestate: "a=1" });
    assert.deepEqual(roundTrip({ traceparent: tp, other: "x" }), { traceparent: tp });
    assert.deepEqual(roundTrip({ traceparent: tp, tracestate: "x".repeat(600) }), { traceparent: tp });
    assert.equal(roundTrip({ traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01" }), undefined);
    assert.equal(roundTrip({ traceparent: "garbage" }), undefined);
    assert.equal(roundTrip("not an object"), undefined);
  });
});
