import type { JetStreamManager } from "@nats-io/jetstream";
import { parseWorkSubject, queueSubjects } from "./layout.js";

/**
 * What a subject's answer is cached under: a jetq work subject (`jetq.q.<queue>.<priority>.<task id>`,
 * the target of every delayed task, so one subject per task) under its queue's wildcard, which one
 * stream captures; any other subject under itself.
 */
function cacheKey(subject: string): string {
  const work = parseWorkSubject(subject);
  return work ? queueSubjects(work.queue) : subject;
}

/**
 * Remembers which subjects belong to a JetStream stream (so fires to them are published with a
 * de-duplication id and an acknowledgement) for a short time, re-asking the server after `ttlMs`.
 */
export class StreamTargets {
  private readonly cache = new Map<string, { stream: boolean; at: number }>();

  /** @param ttlMs how long an answer is trusted. @defaultValue 5000 */
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly ttlMs = 5000,
  ) {}

  /** True when a stream captures `subject`. */
  async isStream(subject: string): Promise<boolean> {
    const now = Date.now();
    const key = cacheKey(subject);
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.stream;
    const stream = await this.jsm.streams.find(subject).then(
      () => true,
      () => false,
    );
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, { stream, at: now });
    return stream;
  }
}
