/**
 * Dead letters: the tasks of a queue that failed for good (`expired` after their last try or past
 * their deadline, `terminated`), kept with their last error and failure history until they are
 * redriven, purged or aged out. See docs/dead-letters.md.
 */
import type { KeyObject } from "node:crypto";
import { NotFoundError, ValidationError } from "../errors.js";
import type { Enqueuer } from "./enqueuer.js";
import { validateId } from "./names.js";
import type { ResolvedQueue } from "./queue.js";
import {
  type DeadLetter,
  deadLetterState,
  decodeDeadLetter,
  deleteDeadLetter,
  nextDeadLetter,
  purgeDeadLetters,
  readDeadLetter,
} from "./storage/dead-letter-store.js";
import type { JetStreamStorage } from "./storage/jetstream-storage.js";
import { redriveMsgId } from "./storage/layout.js";
import type { Task } from "./task.js";

export type { DeadLetter, DeadLetterReason } from "./storage/dead-letter-store.js";

/** Most dead letters one {@link DeadLetters.list} call returns. */
export const MAX_DEAD_LETTER_PAGE = 1000;

/** One page of {@link DeadLetters.list}. */
export interface DeadLetterPage {
  /** Oldest first. */
  deadLetters: DeadLetter[];
  /** Present when more follow: pass it as `after` for the next page. */
  next?: number;
}

/** What {@link DeadLetters.redriveAll} did. */
export interface RedriveAllResult {
  /** Tasks put back in the queue. */
  redriven: number;
  /**
   * Entries left in place: signed tasks whose deadline had passed while no signing key was at hand
   * (see {@link DeadLetters.redrive}), and entries that do not decode.
   */
  skipped: number;
}

/** What {@link DeadLetters} works with. */
export interface DeadLettersParams {
  storage: JetStreamStorage;
  /** Puts redriven tasks back in their queue (a new run, signed again when a key is at hand). */
  enqueuer: Enqueuer;
  /**
   * The signing key of this owner, if any: a signed task whose past deadline is dropped must be
   * signed again to be redriven.
   */
  signingKey: () => KeyObject | undefined;
}

function pageNumber(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ValidationError(`invalid_${name}`, `${name} must be an integer ${min}-${max}, got ${v}`);
  }
  return v;
}

/**
 * Lists, inspects, redrives and purges the dead letters of any queue on one storage. Every method
 * checks the queue exists (`queue_not_found`) and the id is valid (`invalid_id`) first. A queue
 * created with `deadLetters: false` has none.
 *
 * ```ts
 * const { deadLetters } = await client.deadLetters.list("emails");
 * await client.deadLetters.redrive("emails", deadLetters[0].task.id);
 * ```
 */
export class DeadLetters {
  private readonly storage: JetStreamStorage;

  constructor(private readonly p: DeadLettersParams) {
    this.storage = p.storage;
  }

  /**
   * A page of a queue's dead letters, oldest first, after stream sequence `after` (0: from the
   * start; else a previous page's `next`). Entries that do not decode are left out.
   * @param opts.limit 1-{@link MAX_DEAD_LETTER_PAGE}, default 100.
   * @throws ValidationError (`invalid_limit`, `invalid_after`), NotFoundError (`queue_not_found`), StorageError
   */
  async list(queue: string, opts: { limit?: number; after?: number } = {}): Promise<DeadLetterPage> {
    const limit = pageNumber("limit", opts.limit ?? 100, 1, MAX_DEAD_LETTER_PAGE);
    const after = pageNumber("after", opts.after ?? 0, 0, Number.MAX_SAFE_INTEGER);
    await this.storage.getQueue(queue);
    const deadLetters: DeadLetter[] = [];
    let seen = after;
    for (;;) {
      const m = await nextDeadLetter(this.storage, queue, seen + 1);
      if (!m) return { deadLetters };
      if (deadLetters.length === limit) return { deadLetters, next: seen };
      seen = m.seq;
      try {
        deadLetters.push(decodeDeadLetter(m));
      } catch {
        // Not written by jetq: purge removes it.
      }
    }
  }

  /**
   * One task's dead letter.
   * @throws NotFoundError (`dead_letter_not_found`, `queue_not_found`), ValidationError, StorageError
   */
  async get(queue: string, id: string): Promise<DeadLetter> {
    return decodeDeadLetter(await this.entry(queue, id));
  }

  /** How many dead letters a queue holds. @throws NotFoundError (`queue_not_found`), StorageError */
  async count(queue: string): Promise<number> {
    await this.storage.getQueue(queue);
    return (await deadLetterState(this.storage, queue)).messages;
  }

  /**
   * Puts a dead letter back in its queue as a fresh task: state `new`, tries 0, no result, its
   * failure history and last error kept, and its deadline dropped when it has passed (else it would
   * expire again at once). The work item is written (de-duplicated on the entry's stream
   * sequence: redriving the same entry twice enqueues once), then the entry is deleted.
   *
   * A signed task keeps its signature (it does not cover state or tries); when its deadline was
   * dropped it is signed again with the `signingKey` option, and refused without one.
   * @returns the task as enqueued.
   * @throws NotFoundError (`dead_letter_not_found`, `queue_not_found`), ValidationError
   * (`signing_key_required`, `invalid_id`), StorageError
   */
  async redrive(queue: string, id: string): Promise<Task> {
    const m = await this.entry(queue, id);
    return this.putBack(await this.storage.getQueue(queue), decodeDeadLetter(m));
  }

  /**
   * Redrives every dead letter the queue held when the call started (oldest first; tasks that fail
   * for good again meanwhile wait for the next call). Entries that cannot be redriven are left in
   * place and counted as `skipped`.
   * `onProgress` is told, after each entry, how many were handled of how many the queue held.
   * @throws NotFoundError (`queue_not_found`), StorageError (entries before the failure are redriven)
   */
  async redriveAll(
    queue: string,
    opts: { onProgress?: (done: number, total: number) => void } = {},
  ): Promise<RedriveAllResult> {
    const q = await this.storage.getQueue(queue);
    const { lastSeq, messages } = await deadLetterState(this.storage, queue);
    const result: RedriveAllResult = { redriven: 0, skipped: 0 };
    for (let seq = 1; seq <= lastSeq; ) {
      const m = await nextDeadLetter(this.storage, queue, seq);
      if (!m || m.seq > lastSeq) break;
      seq = m.seq + 1;
      try {
        await this.putBack(q, decodeDeadLetter(m));
        result.redriven++;
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        result.skipped++;
      }
      opts.onProgress?.(result.redriven + result.skipped, messages);
    }
    return result;
  }

  /**
   * Removes one task's dead letter (`id`) or every dead letter of the queue, without running them.
   * @returns how many entries were removed (0 when there was none).
   * @throws NotFoundError (`queue_not_found`), ValidationError (`invalid_id`), StorageError
   */
  async purge(queue: string, id?: string): Promise<number> {
    await this.storage.getQueue(queue);
    if (id !== undefined) validateId(id);
    const count = await purgeDeadLetters(this.storage, queue, id);
    if (count > 0) {
      this.storage.publishQueueEvent(queue, "dead_letters_purged", {
        ...(id === undefined ? {} : { taskId: id }),
        detail: { count },
      });
    }
    return count;
  }

  private async entry(queue: string, id: string) {
    validateId(id);
    await this.storage.getQueue(queue);
    const m = await readDeadLetter(this.storage, queue, id);
    if (!m) throw new NotFoundError("dead_letter_not_found", `queue ${queue} has no dead letter for task ${id}`);
    return m;
  }

  private async putBack(q: ResolvedQueue, dl: DeadLetter): Promise<Task> {
    const { task } = dl;
    task.queue = q.name;
    if (task.deadline !== undefined && task.deadline <= Date.now()) {
      // Signed without the deadline, the signature no longer matches: the enqueuer signs it again.
      if (task.signature !== undefined && !this.p.signingKey()) {
        throw new ValidationError(
          "signing_key_required",
          `task ${task.id} is signed and its deadline passed: redriving it without the deadline needs a signing key`,
        );
      }
      delete task.deadline;
    }
    await this.p.enqueuer.restart(task, redriveMsgId(task.id, dl.seq));
    await deleteDeadLetter(this.storage, q.name, dl.seq);
    this.storage.publishQueueEvent(q.name, "redriven", { taskId: task.id, detail: { reason: dl.reason } });
    return task;
  }
}
