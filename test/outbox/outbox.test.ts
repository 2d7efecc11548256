import assert from "node:assert/strict";
import { chmodSync, closeSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { Outbox, type OutboxDropInfo, OutboxError, OutboxFullError } from "../../src/outbox/index.js";

const text = (d: Uint8Array) => Buffer.from(d).toString();
const msg = (i: number) => ({ subject: "t.m", data: Buffer.from(`m-${i}`) });

describe("Outbox", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jetq-outbox-unit-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  let n = 0;
  const file = () => join(dir, `box-${++n}.db`);

  it("saves in order and reads oldest, all, one; deletes one and removes the oldest", () => {
    const box = Outbox.open(file());
    try {
      const saved = [0, 1, 2, 3].map((i) => box.save(msg(i)));
      assert.deepEqual(
        saved.map((e) => e.seq),
        [1, 2, 3, 4],
      );
      assert.equal(box.size, 4);
      assert.equal(text(box.oldest()!.data), "m-0");
      assert.deepEqual(
        box.all().map((e) => text(e.data)),
        ["m-0", "m-1", "m-2", "m-3"],
      );
      assert.deepEqual(
        box.all({ afterSeq: 1, limit: 2 }).map((e) => e.seq),
        [2, 3],
      );
      assert.equal(text(box.get(3)!.data), "m-2");
      assert.equal(box.delete(2), true);
      assert.equal(box.delete(2), false);
      const oldest = box.removeOldest();
      assert.equal(oldest && text(oldest.data), "m-0");
      assert.deepEqual(
        box.all().map((e) => text(e.data)),
        ["m-2", "m-3"],
      );
      assert.equal(box.deleteMany([3, 4, 99]), 2);
      assert.equal(box.size, 0);
      assert.equal(box.bytes, 0);
      assert.equal(box.oldest(), undefined);
      assert.equal(box.removeOldest(), undefined);
      assert.equal(box.oldestAgeMs(), 0);
    } finally {
      box.close();
    }
  });

  it("keeps headers, explicit ids and delivery; derives stable ids that are never reused", () => {
    const path = file();
    const box = Outbox.open(path);
    const a = box.save({ subject: "t.a", data: Buffer.from("x"), msgId: "mine", headers: { "X-A": "1" } });
    const b = box.save({ subject: "t.b", data: Buffer.from("y"), delivery: "request" });
    assert.equal(a.msgId, "mine");
    assert.equal(b.msgId, `${box.id}:2`);
    assert.equal(b.delivery, "request");
    box.deleteMany([1, 2]); // empty again
    const id = box.id;
    box.close();

    const again = Outbox.open(path);
    try {
      assert.equal(again.id, id, "the outbox id is stored in the file");
      const c = again.save(msg(0));
      assert.equal(c.seq, 3, "sequence numbers are not reused after the outbox empties");
      assert.equal(c.msgId, `${id}:3`);
      again.save({ subject: "t.h", data: Buffer.from("z"), headers: { "X-B": "2" } });
      const [, h] = again.all();
      assert.deepEqual(h!.headers, { "X-B": "2" });
      assert.equal(h!.delivery, "jetstream");
    } finally {
      again.close();
    }
  });

  it("rejects at maxEntries and maxBytes with outbox_full and writes nothing", () => {
    const box = Outbox.open(file(), { maxEntries: 3, maxBytes: 1000 });
    try {
      box.saveMany([msg(0), msg(1)]);
      assert.throws(
        () => box.saveMany([msg(2), msg(3)]),
        (e: unknown) => e instanceof OutboxFullError && e.code === "outbox_full" && e.limit === "maxEntries",
      );
      assert.equal(box.size, 2, "a batch that does not fit is not written at all");
      box.save(msg(2));
      assert.throws(() => box.save(msg(3)), OutboxFullError);
      box.removeOldest();
      assert.throws(
        () => box.save({ subject: "t", data: new Uint8Array(990) }),
        (e: unknown) => e instanceof OutboxFullError && e.limit === "maxBytes",
      );
      assert.throws(
        () => box.save({ subject: "t", data: new Uint8Array(2000) }),
        (e: unknown) => e instanceof OutboxFullError && /can never fit/.test(e.message),
      );
    } finally {
      box.close();
    }
  });

  it("refuses new messages once the oldest is older than maxAgeMs", () => {
    const box = Outbox.open(file(), { maxAgeMs: 60_000 });
    try {
      box.save(msg(0));
      assert.equal(box.roomFor(1, 10), undefined);
      const err = box.roomFor(1, 10, 0, 0, Date.now() + 120_000);
      assert.ok(err instanceof OutboxFullError && err.limit === "maxAgeMs");
    } finally {
      box.close();
    }
  });

  it("dropOldest makes room by deleting the oldest entries and reports them", async () => {
    const box = Outbox.open(file(), { maxEntries: 3, whenFull: "dropOldest" });
    try {
      const drops: OutboxDropInfo[] = [];
      box.on("dropped", (d) => drops.push(d));
      for (let i = 0; i < 5; i++) box.save(msg(i));
      assert.deepEqual(
        box.all().map((e) => text(e.data)),
        ["m-2", "m-3", "m-4"],
      );
      await new Promise<void>((r) => queueMicrotask(r));
      assert.equal(
        drops.reduce((a, d) => a + d.count, 0),
        2,
      );
      assert.equal(drops[0]!.limit, "maxEntries");
      assert.equal(box.state().droppedTotal, 2);
    } finally {
      box.close();
    }
  });

  it("names the file in a clear error when it is garbage, a directory, another database or damaged", () => {
    const garbage = file();
    writeFileSync(garbage, Buffer.from("this is not a database at all. ".repeat(200)));
    assert.throws(
      () => Outbox.open(garbage),
      (e: unknown) =>
        e instanceof OutboxError && e.code === "outbox_corrupt" && e.path === garbage && e.message.includes(garbage),
    );

    const directory = file();
    mkdirSync(directory);
    assert.throws(
      () => Outbox.open(directory),
      (e: unknown) => e instanceof OutboxError && e.code === "outbox_unreadable" && e.message.includes(directory),
    );

    const missingParent = join(dir, "no-such-dir", "box.db");
    assert.throws(
      () => Outbox.open(missingParent),
      (e: unknown) => e instanceof OutboxError && e.code === "outbox_unreadable" && e.message.includes(missingParent),
    );

    const other = file();
    const db = new Database(other);
    db.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY)");
    db.close();
    assert.throws(
      () => Outbox.open(other),
      (e: unknown) => e instanceof OutboxError && e.code === "outbox_incompatible" && e.message.includes(other),
    );

    // A real outbox whose pages are then overwritten in the middle.
    const damaged = file();
    const box = Outbox.open(damaged);
    for (let i = 0; i < 200; i++) box.save({ subject: "t.m", data: Buffer.alloc(500, i) });
    box.close();
    const size = statSync(damaged).size;
    assert.ok(size > 16 * 4096);
    const fd = openSync(damaged, "r+");
    writeSync(fd, Buffer.alloc(3 * 4096, 0xa5), 0, 3 * 4096, 4096); // pages 2..4
    closeSync(fd);
    assert.throws(
      () => Outbox.open(damaged),
      (e: unknown) => e instanceof OutboxError && e.code === "outbox_corrupt" && e.message.includes(damaged),
    );
  });

  it("keeps the database and its WAL readable by the owner only (0600), narrowing an existing file", () => {
    const path = file();
    const box = Outbox.open(path);
    try {
      box.save(msg(1));
      for (const f of [path, `${path}-wal`])
        assert.equal(statSync(f).mode & 0o777, 0o600, `${f}: ${(statSync(f).mode & 0o777).toString(8)}`);
    } finally {
      box.close();
    }
    const older = file();
    writeFileSync(older, "");
    chmodSync(older, 0o644);
    Outbox.open(older).close();
    assert.equal(statSync(older).mode & 0o777, 0o600);
  });

  it("has one owner at a time: a second open fails with outbox_locked until the first closes", () => {
    const path = file();
    const first = Outbox.open(path);
    first.save(msg(0));
    assert.throws(
      () => Outbox.open(path),
      (e: unknown) => e instanceof OutboxError && e.code === "outbox_locked" && e.message.includes(path),
    );
    first.close();
    const second = Outbox.open(path);
    assert.equal(second.size, 1);
    second.close();
    assert.throws(
      () => second.save(msg(1)),
      (e: unknown) => e instanceof OutboxError && e.code === "outbox_closed",
    );
  });
});
