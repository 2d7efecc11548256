/**
 * Following jetq's events as they happen (core NATS, not replayed): task state changes, and with
 * `all` also progress, log lines and queue events. Used by `Client.events()` / `allEvents()` and
 * by `jetq task watch`.
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { Channel } from "../channel.js";
import type { Logger } from "../logger.js";
import { type JetqEvent, parseEvent, TASK_STATE_EVENT, type TaskStateEvent } from "./events.js";
import { validateQueueName } from "./names.js";
import { allEventWildcards, taskEventWildcard } from "./storage/layout.js";

/** An event stream; iterate it once, call `close()` to end it. */
export interface EventStream<E extends JetqEvent = TaskStateEvent> extends AsyncIterableIterator<E> {
  close(): void;
}

/**
 * Task state events of one queue or all: every change, or with `final` only each task's outcome.
 * Invalid messages are logged and skipped.
 */
export function taskEvents(
  nc: NatsConnection,
  log: Logger,
  opts: { queue?: string; final?: boolean } = {},
): EventStream {
  const queue = opts.queue === undefined ? "*" : validateQueueName(opts.queue);
  return subscribeEvents(nc, log, [taskEventWildcard(queue, opts.final ?? false)], (e): e is TaskStateEvent => {
    return e.type === TASK_STATE_EVENT;
  });
}

/** Every event of one queue or all: task states, progress, log lines and queue events. */
export function allEvents(nc: NatsConnection, log: Logger, opts: { queue?: string } = {}): EventStream<JetqEvent> {
  const queue = opts.queue === undefined ? "*" : validateQueueName(opts.queue);
  return subscribeEvents(nc, log, allEventWildcards(queue), (e): e is JetqEvent => true);
}

function subscribeEvents<E extends JetqEvent>(
  nc: NatsConnection,
  log: Logger,
  subjects: string[],
  keep: (e: JetqEvent) => e is E,
): EventStream<E> {
  const subs: Subscription[] = subjects.map((s) => nc.subscribe(s));
  const merged = new Channel<{ subject: string; data: Uint8Array }>();
  for (const sub of subs) {
    void (async () => {
      for await (const m of sub) merged.push({ subject: m.subject, data: m.data });
    })().finally(() => {
      if (subs.every((s) => s.isClosed())) merged.end();
    });
  }
  async function* parse(): AsyncGenerator<E> {
    for await (const m of merged) {
      try {
        const e = parseEvent(m.data);
        if (keep(e)) yield e;
      } catch (err) {
        log.warn("skipping an invalid event", { subject: m.subject, error: (err as Error).message });
      }
    }
  }
  return Object.assign(parse(), {
    close: () => {
      for (const s of subs) s.unsubscribe();
    },
  });
}
