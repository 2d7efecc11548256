/** One pending schedule in memory: just enough to know when to fire and where its message is. */
export interface DueEntry {
  /** Subject token of the schedule (stable per id). */
  key: string;
  /** Due time, epoch ms. */
  due: number;
  /** Stream sequence of the stored schedule message. */
  seq: number;
  /** Position in the heap; maintained by {@link DueQueue}. */
  pos: number;
}

/**
 * A min-heap of pending schedules ordered by due time, with an index by key so that an overwrite
 * or cancel is O(log n). Holds no payloads: those stay in JetStream until fire time.
 */
export class DueQueue {
  private readonly heap: DueEntry[] = [];
  private readonly byKey = new Map<string, DueEntry>();

  /** Pending schedules held. */
  get size(): number {
    return this.heap.length;
  }

  /** The entry for `key`, if pending. */
  get(key: string): DueEntry | undefined {
    return this.byKey.get(key);
  }

  /** Adds or replaces the entry for `key`. */
  set(key: string, due: number, seq: number): void {
    const old = this.byKey.get(key);
    if (old) {
      old.seq = seq;
      const before = old.due;
      old.due = due;
      if (due < before) this.up(old.pos);
      else this.down(old.pos);
      return;
    }
    const e: DueEntry = { key, due, seq, pos: this.heap.length };
    this.heap.push(e);
    this.byKey.set(key, e);
    this.up(e.pos);
  }

  /** Removes the entry for `key`; true if there was one. */
  delete(key: string): boolean {
    const e = this.byKey.get(key);
    if (!e) return false;
    this.byKey.delete(key);
    const last = this.heap.pop()!;
    if (last !== e) {
      this.heap[e.pos] = last;
      last.pos = e.pos;
      this.up(last.pos);
      this.down(last.pos);
    }
    return true;
  }

  /** The earliest entry without removing it. */
  peek(): DueEntry | undefined {
    return this.heap[0];
  }

  /** Removes and returns the earliest entry if it is due at or before `until`. */
  popDue(until: number): DueEntry | undefined {
    const top = this.heap[0];
    if (!top || top.due > until) return undefined;
    this.delete(top.key);
    return top;
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i]!;
    const b = this.heap[j]!;
    this.heap[i] = b;
    this.heap[j] = a;
    a.pos = j;
    b.pos = i;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.heap[parent]!.due <= this.heap[i]!.due) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.heap[l]!.due < this.heap[m]!.due) m = l;
      if (r < n && this.heap[r]!.due < this.heap[m]!.due) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
