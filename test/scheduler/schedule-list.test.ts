import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { SCHEDULES_STREAM, type Schedule } from "../../src/jobs/storage/schedule-codec.js";
import { ScheduleStore } from "../../src/jobs/storage/schedule-store.js";
import { connectNats } from "../../src/nats/connect.js";
import { NatsServerLauncher } from "../../src/nats/nats-server-launcher.js";
import { serverFeatures, versionAtLeast } from "../../src/nats/server-features.js";
import { storageOn } from "../support/storage.js";

/**
 * The suite runs on nats-server 2.14 and on 2.9 (scripts/test.mjs): the listing reads a batch per
 * request on the first, one message per request on the second.
 */
const server = new NatsServerLauncher();
const batched = versionAtLeast(server.version, 2, 11);

function schedule(id: string): Schedule {
  return {
    id,
    echoId: true,
    target: "list.out",
    due: Date.now() + 3_600_000,
    payload: new TextEncoder().encode(id),
    headers: {},
    createdAt: Date.now(),
  };
}

/** Rejects when `p` takes longer than `ms` (a listing that hangs fails the test instead of stalling it). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function consumerCount(jsm: JetStreamManager): Promise<number> {
  return (await jsm.consumers.list(SCHEDULES_STREAM).next()).length;
}

describe(`schedule listing on nats-server ${server.version}`, () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let store: ScheduleStore;
  before(async () => {
    await server.start();
    nc = await connectNats({ servers: server.url });
    jsm = await jetstreamManager(nc);
    store = await (await storageOn(nc)).schedules();
  });
  after(async () => {
    await nc.close();
    await server.stop();
  });

  it("uses the server's listing path (batched from 2.11 on)", () => {
    assert.equal(serverFeatures(nc).batchDirectGet, batched);
  });

  it("a listing past the last stored message answers at once (the deleted tail cannot hang it)", async () => {
    await store.save(schedule("tail-1"));
    const seq = await store.save(schedule("tail-2"));
    await store.delete(seq); // the stream's last sequence stays at `seq`, with nothing there
    const page = await within(store.list(10, seq - 1), 10_000, "list after the deleted tail");
    assert.deepEqual(page, { schedules: [], last: seq, more: false });
    const all = await within(store.list(10), 10_000, "list from the start");
    assert.deepEqual(
      all.schedules.map((s) => s.id),
      ["tail-1"],
    );
    assert.equal(all.more, false);
    await store.cancel("tail-1");
  });

  it("pages while schedules are added and removed: each call ends, at most `limit`, every schedule once, no consumer left", async () => {
    const stable = Array.from({ length: 200 }, (_, i) => `stable-${i}`);
    for (const id of stable) await store.save(schedule(id));
    const consumersBefore = await consumerCount(jsm);
    let churning = true;
    let churned = 0;
    const churn = (async () => {
      // Adds schedules, cancels them (markers) and deletes the markers, as a busy service does.
      for (let i = 0; churning && i < 5000; i++) {
        await store.save(schedule(`churn-${i}`));
        if (i % 2 === 0) await store.cancel(`churn-${i}`);
        const marker = await jsm.streams.getMessage(SCHEDULES_STREAM, { last_by_subj: "jetq.sched.>" });
        if (marker && i % 4 === 0) await store.delete(marker.seq);
        churned++;
      }
    })();
    const seen: string[] = [];
    const seqs: number[] = [];
    let cursor = 0;
    let pages = 0;
    try {
      for (;;) {
        const page = await within(store.list(25, cursor), 15_000, `page ${pages}`);
        pages++;
        assert.ok(page.schedules.length <= 25, `${page.schedules.length} schedules in a page of 25`);
        assert.ok(page.last >= cursor, "the cursor never goes back");
        seen.push(...page.schedules.map((s) => s.id));
        seqs.push(page.last);
        if (!page.more) break;
        cursor = page.last;
        assert.ok(pages < 1000, "paging ends");
      }
    } finally {
      churning = false;
      await churn;
    }
    assert.ok(churned > 0, "schedules were added and removed while listing");
    assert.equal(new Set(seen).size, seen.length, "no schedule listed twice");
    const listed = new Set(seen);
    assert.deepEqual(
      stable.filter((id) => !listed.has(id)),
      [],
      "every schedule stored throughout is listed",
    );
    assert.equal(await consumerCount(jsm), consumersBefore, "no consumer left behind");
    assert.equal(consumersBefore, 0);
    for (const id of stable) await store.cancel(id);
  });

  it("a listing out of time answers with what it read and a cursor that goes on", async () => {
    const quick = await ScheduleStore.open(await storageOn(nc), { listTimeoutMs: 0 });
    await jsm.streams.purge(SCHEDULES_STREAM); // the cancel markers of earlier tests
    try {
      const ids = Array.from({ length: 30 }, (_, i) => `quick-${i}`);
      for (const id of ids) await store.save(schedule(id));
      const seen: string[] = [];
      let cursor = 0;
      let calls = 0;
      for (;;) {
        const page = await within(quick.list(20, cursor), 10_000, "a quick page");
        calls++;
        // One read per call: one message on 2.9, a whole page on a batching server.
        if (!batched) assert.ok(page.schedules.length <= 1);
        seen.push(...page.schedules.map((s) => s.id));
        if (!page.more) break;
        cursor = page.last;
      }
      assert.deepEqual(seen.filter((id) => id.startsWith("quick-")).sort(), [...ids].sort());
      assert.ok(!batched ? calls >= 30 : calls <= 2, `${calls} calls`);
      for (const id of ids) await store.cancel(id);
    } finally {
    }
  });

  it("reads a page with one request per page on a batching server, one per message before", async () => {
    await jsm.streams.purge(SCHEDULES_STREAM); // the cancel markers of earlier tests
    for (let i = 0; i < 100; i++) await store.save(schedule(`count-${i}`));
    const watcher = await connectNats({ servers: server.url });
    let requests = 0;
    const sub = watcher.subscribe(`$JS.API.DIRECT.GET.${SCHEDULES_STREAM}`, {
      callback: () => {
        requests++;
      },
    });
    try {
      await watcher.flush();
      const page = await store.list(100);
      assert.equal(page.schedules.length, 100);
      await nc.flush();
      await watcher.flush();
      if (!batched) assert.ok(requests >= 100, `${requests} requests`);
      else assert.equal(requests, 1);
    } finally {
      sub.unsubscribe();
      await watcher.close();
      for (let i = 0; i < 100; i++) await store.cancel(`count-${i}`);
    }
  });
});
