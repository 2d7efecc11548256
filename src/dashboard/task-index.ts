/**
 * The in-memory index of task records that `jetq serve` keeps for listing tasks by queue, state and
 * type, newest first, at millions of records. It holds no task bodies: per task its id, queue,
 * state, type, when it last changed and a change number, all in typed arrays (no object per task). Pure data structure: the
 * {@link TaskCatalog} fills it from the `JETQ_TASKS` stream and the task state events.
 */
import { isValidId } from "../jobs/names.js";
import { TaskState } from "../jobs/task.js";
import { IdTable } from "./id-table.js";

/** What the index knows of one task. */
export interface IndexedTask {
  id: string;
  queue: string;
  state: TaskState;
  type: string;
  /** When it entered this state, epoch ms. */
  updatedAt: number;
}

/** A query of {@link TaskIndex.page}. */
export interface IndexQuery {
  /** Only this queue. @defaultValue every queue */
  queue?: string;
  /** Only this state. @defaultValue every indexed state */
  state?: TaskState;
  /** Only this task type. @defaultValue every type */
  type?: string;
  /** Continue below this change number (a previous page's `next`). @defaultValue from the newest */
  before?: number;
  /** Most ids returned. */
  limit: number;
}

/** One page of {@link TaskIndex.page}: ids, most recently changed first. */
export interface IndexPage {
  ids: string[];
  /** Present when more follow: pass it as `before`. */
  next?: number;
}

/** States the index keeps, in a fixed order (their number is a byte per task). */
const STATES: readonly TaskState[] = Object.values(TaskState);
const STATE_NO = new Map<TaskState, number>(STATES.map((s, i) => [s, i]));

/** Entries of one (queue, state, type): change numbers and slots, in increasing change number. */
class Bucket {
  gens = new Float64Array(16);
  slots = new Uint32Array(16);
  len = 0;
  /** Entries whose slot still belongs here with that change number. */
  live = 0;

  constructor(
    readonly no: number,
    readonly queue: number,
    readonly state: number,
    readonly type: number,
  ) {}

  push(gen: number, slot: number): void {
    if (this.len === this.gens.length) {
      const gens = new Float64Array(this.len * 2);
      gens.set(this.gens);
      this.gens = gens;
      const slots = new Uint32Array(this.len * 2);
      slots.set(this.slots);
      this.slots = slots;
    }
    this.gens[this.len] = gen;
    this.slots[this.len] = slot;
    this.len++;
  }

  /** Index of the first entry whose change number is >= `gen` (binary search). */
  lowerBound(gen: number): number {
    let lo = 0;
    let hi = this.len;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.gens[mid]! < gen) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Names (queues, types) as small numbers. */
class Names {
  private readonly numbers = new Map<string, number>();
  readonly names: string[] = [];

  of(name: string): number {
    let n = this.numbers.get(name);
    if (n === undefined) {
      n = this.names.length;
      this.names.push(name);
      this.numbers.set(name, n);
    }
    return n;
  }

  find(name: string): number | undefined {
    return this.numbers.get(name);
  }
}

/** Grows a typed array to at least `size` entries, doubling. */
function grown<A extends Float64Array | Uint32Array | Int32Array>(a: A, size: number, make: (n: number) => A): A {
  if (size <= a.length) return a;
  const b = make(Math.max(size, a.length * 2));
  b.set(a);
  return b;
}

/**
 * Tasks by (queue, state, type), newest change first. Each change appends an entry to its bucket
 * and leaves the task's previous entry stale (skipped when read, dropped when the bucket is
 * compacted), so a change costs O(1) and the first page of any list O(limit + stale entries met).
 * Tasks in state `new` are not kept: waiting tasks are listed from their queue's stream.
 */
export class TaskIndex {
  private readonly ids = new IdTable();
  private slots = 0;
  private slotGen = new Float64Array(1024);
  private slotUpdated = new Float64Array(1024);
  private slotBucket = new Int32Array(1024);
  private slotMark = new Uint32Array(1024);
  private readonly free: number[] = [];
  private readonly buckets: Bucket[] = [];
  private readonly bucketOf = new Map<number, Bucket>();
  private readonly queues = new Names();
  private readonly types = new Names();
  private gen = 0;
  private mark = 0;

  /** Tasks indexed. */
  get size(): number {
    return this.ids.size;
  }

  /** The latest change number (grows with every change). */
  get lastChange(): number {
    return this.gen;
  }

  private bucket(queue: number, state: number, type: number): Bucket {
    const key = (type * 65_536 + queue) * 16 + state;
    let b = this.bucketOf.get(key);
    if (!b) {
      b = new Bucket(this.buckets.length, queue, state, type);
      this.buckets.push(b);
      this.bucketOf.set(key, b);
    }
    return b;
  }

  private allocate(id: string): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.slots++;
      const size = slot + 1;
      this.slotGen = grown(this.slotGen, size, (n) => new Float64Array(n));
      this.slotUpdated = grown(this.slotUpdated, size, (n) => new Float64Array(n));
      this.slotBucket = grown(this.slotBucket, size, (n) => new Int32Array(n));
      this.slotMark = grown(this.slotMark, size, (n) => new Uint32Array(n));
    }
    this.slotBucket[slot] = -1;
    this.ids.add(id, slot);
    return slot;
  }

  /**
   * Records that task `id` is in `state` since `at`. With `onlyIfNewer`, a task already indexed
   * with a later `updatedAt` is left alone (a replayed record older than an event seen meanwhile).
   * State `new` removes the task (it is waiting: its queue's stream lists it).
   */
  set(id: string, queue: string, state: TaskState, type: string, at: number, onlyIfNewer = false): void {
    const stateNo = STATE_NO.get(state);
    if (stateNo === undefined) return;
    let slot = this.ids.find(id);
    if (slot !== undefined) {
      if (onlyIfNewer && this.slotUpdated[slot]! > at) {
        this.slotMark[slot] = this.mark;
        return;
      }
      if (state === TaskState.New) {
        this.remove(id);
        return;
      }
      this.leave(slot);
    } else {
      if (state === TaskState.New || !isValidId(id)) return;
      slot = this.allocate(id);
    }
    const b = this.bucket(this.queues.of(queue), stateNo, this.types.of(type));
    const gen = ++this.gen;
    b.push(gen, slot);
    b.live++;
    this.slotGen[slot] = gen;
    this.slotBucket[slot] = b.no;
    this.slotUpdated[slot] = at;
    this.slotMark[slot] = this.mark;
  }

  /** Takes a slot out of its bucket (its entry turns stale). */
  private leave(slot: number): void {
    const no = this.slotBucket[slot]!;
    if (no < 0) return;
    const b = this.buckets[no]!;
    b.live--;
    this.slotBucket[slot] = -1;
    if (b.len - b.live > Math.max(1024, b.live)) this.compact(b);
  }

  private compact(b: Bucket): void {
    let w = 0;
    for (let r = 0; r < b.len; r++) {
      const slot = b.slots[r]!;
      if (this.slotGen[slot] !== b.gens[r] || this.slotBucket[slot] !== b.no) continue;
      b.gens[w] = b.gens[r]!;
      b.slots[w] = slot;
      w++;
    }
    b.len = w;
  }

  /** Forgets a task (deleted, discarded, or found missing). */
  remove(id: string): void {
    const slot = this.ids.find(id);
    if (slot === undefined) return;
    this.leave(slot);
    this.ids.delete(id);
    this.free.push(slot);
  }

  /** Removes the tasks whose slot `drop` says to; returns how many. */
  private removeWhere(drop: (slot: number) => boolean): number {
    let removed = 0;
    for (let slot = 0; slot < this.slots; slot++) {
      if (!this.ids.holds(slot) || !drop(slot)) continue;
      this.remove(this.ids.idOf(slot));
      removed++;
    }
    return removed;
  }

  /** What the index knows of a task, or undefined. */
  get(id: string): IndexedTask | undefined {
    const slot = this.ids.find(id);
    if (slot === undefined) return undefined;
    const b = this.buckets[this.slotBucket[slot]!];
    if (!b) return undefined;
    return {
      id,
      queue: this.queues.names[b.queue]!,
      state: STATES[b.state]!,
      type: this.types.names[b.type]!,
      updatedAt: this.slotUpdated[slot]!,
    };
  }

  /** Tasks per state of every queue (queues with no indexed task are absent). */
  counts(): Map<string, Partial<Record<TaskState, number>>> {
    const out = new Map<string, Partial<Record<TaskState, number>>>();
    for (const b of this.buckets) {
      if (b.live === 0) continue;
      const q = this.queues.names[b.queue]!;
      const c = out.get(q) ?? {};
      out.set(q, c);
      const s = STATES[b.state]!;
      c[s] = (c[s] ?? 0) + b.live;
    }
    return out;
  }

  /** Task types with indexed tasks in a queue, sorted. */
  typesOf(queue: string): string[] {
    const q = this.queues.find(queue);
    const seen = new Set<string>();
    for (const b of this.buckets) if (b.queue === q && b.live > 0) seen.add(this.types.names[b.type]!);
    return [...seen].sort();
  }

  /** Ids matching a query, most recently changed first. */
  page(query: IndexQuery): IndexPage {
    const q = query.queue === undefined ? undefined : this.queues.find(query.queue);
    const t = query.type === undefined ? undefined : this.types.find(query.type);
    const s = query.state === undefined ? undefined : STATE_NO.get(query.state);
    if ((query.queue !== undefined && q === undefined) || (query.type !== undefined && t === undefined)) {
      return { ids: [] };
    }
    const chosen = this.buckets.filter(
      (b) =>
        b.live > 0 &&
        (q === undefined || b.queue === q) &&
        (t === undefined || b.type === t) &&
        (s === undefined || b.state === s),
    );
    // One read position per bucket, just below `before`; merged by descending change number.
    const pos = chosen.map((b) => (query.before === undefined ? b.len : b.lowerBound(query.before)) - 1);
    const ids: string[] = [];
    let last: number | undefined;
    for (;;) {
      let best = -1;
      let bestGen = -1;
      for (let i = 0; i < chosen.length; i++) {
        const b = chosen[i]!;
        // Skip stale entries of this bucket.
        let p = pos[i]!;
        while (p >= 0 && (this.slotGen[b.slots[p]!] !== b.gens[p] || this.slotBucket[b.slots[p]!] !== b.no)) p--;
        pos[i] = p;
        if (p >= 0 && b.gens[p]! > bestGen) {
          bestGen = b.gens[p]!;
          best = i;
        }
      }
      if (best < 0) return { ids };
      if (ids.length === query.limit) return { ids, next: last! };
      const b = chosen[best]!;
      ids.push(this.ids.idOf(b.slots[pos[best]!]!));
      last = bestGen;
      pos[best]!--;
    }
  }

  /** Starts a sweep: tasks not {@link set} again before {@link endSweep} are removed then. */
  beginSweep(): void {
    this.mark++;
  }

  /**
   * Removes the tasks neither replayed nor changed since {@link beginSweep} whose last change is
   * older than `before` (records deleted or aged out of the stream). Returns how many.
   */
  endSweep(before: number): number {
    return this.removeWhere((slot) => this.slotMark[slot] !== this.mark && this.slotUpdated[slot]! < before);
  }

  /** Removes tasks whose last change is older than `before` (aged out of a stream with a max age). */
  expire(before: number): number {
    return this.removeWhere((slot) => this.slotUpdated[slot]! < before);
  }

  /** Bytes held (every part is a typed array). */
  byteLength(): number {
    let bytes =
      this.slotGen.byteLength +
      this.slotUpdated.byteLength +
      this.slotBucket.byteLength +
      this.slotMark.byteLength +
      this.ids.byteLength +
      this.free.length * 8;
    for (const b of this.buckets) bytes += b.gens.byteLength + b.slots.byteLength;
    return bytes;
  }
}
