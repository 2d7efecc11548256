/**
 * Task ids for the task index without a JavaScript string or map entry per task: the ids' bytes
 * in one growing buffer and an open-addressing hash table over typed arrays. A million ids are a
 * few large arrays, which the garbage collector does not walk: with a `Map` of strings each major
 * collection of `jetq serve` took ~100 ms longer at a million tasks (measured on 2 cores).
 */

/** FNV-1a of an ASCII string. */
function hash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const EMPTY = 0;
const GONE = -1;

/** Ids (ASCII, 1–255 characters) by slot number, and slot numbers by id. */
export class IdTable {
  private bytes = new Uint8Array(1 << 16);
  private used = 0;
  private dead = 0;
  private offset = new Uint32Array(1024);
  private length = new Uint8Array(1024);
  /** Slot + 1, 0 empty, -1 removed. */
  private table = new Int32Array(2048);
  private count = 0;
  private removed = 0;

  /** Ids held. */
  get size(): number {
    return this.count;
  }

  /** Bytes of the arrays. */
  get byteLength(): number {
    return this.bytes.byteLength + this.offset.byteLength + this.length.byteLength + this.table.byteLength;
  }

  private same(slot: number, id: string): boolean {
    if (this.length[slot] !== id.length) return false;
    const at = this.offset[slot]!;
    for (let i = 0; i < id.length; i++) if (this.bytes[at + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  /** Where `id` is in the table: its position, or the free position it would take (negative - 1). */
  private probe(id: string): number {
    const mask = this.table.length - 1;
    let free = -1;
    for (let i = hash(id) & mask; ; i = (i + 1) & mask) {
      const v = this.table[i]!;
      if (v === EMPTY) return -1 - (free >= 0 ? free : i);
      if (v === GONE) {
        if (free < 0) free = i;
      } else if (this.same(v - 1, id)) return i;
    }
  }

  /** The slot of `id`, or undefined. */
  find(id: string): number | undefined {
    const p = this.probe(id);
    return p >= 0 ? this.table[p]! - 1 : undefined;
  }

  /** The id in a slot (which must hold one). */
  idOf(slot: number): string {
    const at = this.offset[slot]!;
    return String.fromCharCode(...this.bytes.subarray(at, at + this.length[slot]!));
  }

  /** True when the slot holds an id. */
  holds(slot: number): boolean {
    return slot < this.length.length && this.length[slot]! > 0;
  }

  /** Puts `id` in `slot` (the id must not be held yet, and be 1–255 ASCII characters). */
  add(id: string, slot: number): void {
    if ((this.count + this.removed + 1) * 4 > this.table.length * 3) this.rehash();
    if (slot >= this.offset.length) {
      const n = Math.max(slot + 1, this.offset.length * 2);
      const offset = new Uint32Array(n);
      offset.set(this.offset);
      this.offset = offset;
      const length = new Uint8Array(n);
      length.set(this.length);
      this.length = length;
    }
    if (this.used + id.length > this.bytes.length) this.makeRoom(id.length);
    for (let i = 0; i < id.length; i++) this.bytes[this.used + i] = id.charCodeAt(i);
    this.offset[slot] = this.used;
    this.length[slot] = id.length;
    this.used += id.length;
    const p = this.probe(id);
    if (this.table[-1 - p] === GONE) this.removed--;
    this.table[-1 - p] = slot + 1;
    this.count++;
  }

  /** Removes `id`; returns its slot, or undefined when it was not held. */
  delete(id: string): number | undefined {
    const p = this.probe(id);
    if (p < 0) return undefined;
    const slot = this.table[p]! - 1;
    this.table[p] = GONE;
    this.removed++;
    this.count--;
    this.dead += this.length[slot]!;
    this.length[slot] = 0;
    return slot;
  }

  /** A table at least twice the live ids, without removed entries (it fills up to three quarters). */
  private rehash(): void {
    let size = 2048;
    while ((this.count + 1) * 2 > size) size *= 2;
    const old = this.table;
    this.table = new Int32Array(size);
    this.removed = 0;
    const mask = size - 1;
    for (const v of old) {
      if (v <= 0) continue;
      const slot = v - 1;
      let i = hash(this.idOf(slot)) & mask;
      while (this.table[i] !== EMPTY) i = (i + 1) & mask;
      this.table[i] = v;
    }
  }

  /** Drops the bytes of removed ids, or grows the buffer. */
  private makeRoom(need: number): void {
    const live = this.used - this.dead;
    const size = Math.max(this.bytes.length, 1 << 16);
    const next = new Uint8Array(live + need > size / 2 ? size * 2 : size);
    let w = 0;
    for (let slot = 0; slot < this.length.length; slot++) {
      const n = this.length[slot]!;
      if (n === 0) continue;
      next.set(this.bytes.subarray(this.offset[slot]!, this.offset[slot]! + n), w);
      this.offset[slot] = w;
      w += n;
    }
    this.bytes = next;
    this.used = w;
    this.dead = 0;
  }
}
