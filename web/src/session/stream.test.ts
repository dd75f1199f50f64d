import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../gen/stich/v1/session_pb";
import { applyAll, initialView } from "./reducer";
import { SessionStore, storageCache, type WatchFn } from "./stream";
import { generation } from "./testevents";

/**
 * fakeServer serves a log through scripted connections: each connection
 * delivers the events after afterSeq, stopping after `take` events with the
 * given error (or skipping seqs to make a gap).
 */
function fakeServer(log: SessionEvent[], script: Array<{ take?: number; fail?: Error; skip?: number }>) {
  const calls: bigint[] = [];
  const watch: WatchFn = (afterSeq, signal) => {
    calls.push(afterSeq);
    const step = script[calls.length - 1] ?? {};
    return (async function* () {
      let rest = log.filter((e) => e.seq > afterSeq);
      if (step.skip) rest = rest.filter((e) => Number(e.seq) !== step.skip);
      const take = step.take ?? rest.length;
      for (const e of rest.slice(0, take)) {
        if (signal.aborted) return;
        yield e;
      }
      if (step.fail) throw step.fail;
      if (step.take === undefined) {
        // Follow "live" until the store aborts this connection.
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      }
    })();
  };
  return { watch, calls };
}

function newStore(watch: WatchFn, delays: number[]) {
  return new SessionStore({
    watch,
    sleep: async (ms) => {
      delays.push(ms);
    },
    schedule: (fn) => queueMicrotask(fn),
  });
}

async function until(cond: () => boolean) {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 0));
  expect(cond()).toBe(true);
}

describe("SessionStore", () => {
  const unavailable = () => new ConnectError("node is shutting down; reconnect with after_seq=5", Code.Unavailable);

  it("reconnects after an error from the last seq received, with nothing twice and nothing missing", async () => {
    const log = generation();
    const srv = fakeServer(log, [{ take: 5, fail: unavailable() }, { take: 3, fail: new ConnectError("Failed to fetch", Code.Unknown, undefined, undefined, new TypeError("Failed to fetch")) }, {}]);
    const delays: number[] = [];
    const store = newStore(srv.watch, delays);
    void store.start();
    await until(() => store.getSnapshot().view.lastSeq === log.length);
    expect(srv.calls).toEqual([0n, 5n, 8n]);
    const { view, status } = store.getSnapshot();
    expect(view.applied).toBe(log.length);
    expect(view.duplicates).toBe(0);
    expect({ ...view }).toEqual(applyAll(initialView(), log).view);
    expect(status).toMatchObject({ state: "live", connects: 3, attempt: 0 });
    // Each failure after progress waits the first backoff step.
    expect(delays).toEqual([500, 500]);
    store.close();
    expect(store.getSnapshot().status.state).toBe("closed");
  });

  it("a gap ends the stream and reconnects at once from the last applied seq", async () => {
    const log = generation();
    const srv = fakeServer(log, [{ skip: 4 }, {}]);
    const delays: number[] = [];
    const store = newStore(srv.watch, delays);
    void store.start();
    await until(() => store.getSnapshot().view.lastSeq === log.length);
    expect(srv.calls).toEqual([0n, 3n]);
    expect(store.getSnapshot().view.gaps).toBe(1);
    expect(store.getSnapshot().view.applied).toBe(log.length);
    expect(delays).toEqual([]);
    store.close();
  });

  it("backs off exponentially while the server stays away, capped at 10 s", async () => {
    const log = generation();
    const down = { take: 0, fail: unavailable() };
    const srv = fakeServer(log, [down, down, down, down, down, down, down, {}]);
    const delays: number[] = [];
    const store = newStore(srv.watch, delays);
    void store.start();
    await until(() => store.getSnapshot().view.lastSeq === log.length);
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000]);
    expect(srv.calls.every((c) => c === 0n)).toBe(true);
    store.close();
  });

  it("gives up on not_found with a readable problem, and retryNow starts again", async () => {
    const log = generation();
    const srv = fakeServer(log, [{ take: 0, fail: new ConnectError("session s-x does not exist", Code.NotFound) }, {}]);
    const store = newStore(srv.watch, []);
    await store.start();
    const { status } = store.getSnapshot();
    expect(status.state).toBe("failed");
    expect(status.problem).toMatchObject({ code: "not_found", detail: "session s-x does not exist", retryable: false });
    store.retryNow();
    await until(() => store.getSnapshot().view.lastSeq === log.length);
    store.close();
  });
});

/** memoryStorage is a Storage in memory, with a quota in characters. */
function memoryStorage(quota = Infinity): Storage {
  const m = new Map<string, string>();
  return {
    get length() {
      return m.size;
    },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => {
      if (v.length > quota) throw new Error("QuotaExceededError");
      m.set(k, v);
    },
  };
}

describe("SessionStore with a cache of the last-seen log", () => {
  it("shows the cached log at once and follows on from its last seq", async () => {
    const log = generation();
    const storage = memoryStorage();
    const first = storageCache(storage, "k")!;
    first.save(log.slice(0, 6));
    const srv = fakeServer(log, [{}]);
    const store = new SessionStore({ watch: srv.watch, sleep: async () => {}, schedule: (fn) => queueMicrotask(fn), cache: storageCache(storage, "k") });
    // Before any connection: the cached prefix.
    expect(store.getSnapshot().view.lastSeq).toBe(6);
    void store.start();
    await until(() => store.getSnapshot().view.lastSeq === log.length);
    expect(srv.calls).toEqual([6n]);
    expect({ ...store.getSnapshot().view, applied: 0 }).toEqual({ ...applyAll(initialView(), log).view, applied: 0 });
    store.close(); // writes the cache
    expect(storageCache(storage, "k")!.load().map((e) => Number(e.seq))).toEqual(log.map((_, i) => i + 1));
  });

  it("shows the cached log while the server is down", async () => {
    const log = generation();
    const storage = memoryStorage();
    storageCache(storage, "k")!.save(log);
    const down = new ConnectError("Failed to fetch", Code.Unknown, undefined, undefined, new TypeError("Failed to fetch"));
    const srv = fakeServer(log, [{ take: 0, fail: down }, { take: 0, fail: down }]);
    const store = new SessionStore({ watch: srv.watch, sleep: () => new Promise(() => {}), schedule: (fn) => queueMicrotask(fn), cache: storageCache(storage, "k") });
    void store.start();
    await until(() => store.getSnapshot().status.state === "waiting");
    expect(store.getSnapshot().view.lastSeq).toBe(log.length);
    expect(store.getSnapshot().view.files["src/App.tsx"].done).toBe(true);
    store.close();
  });

  it("drops a corrupt or oversized cache instead of showing part of it", () => {
    const storage = memoryStorage(20);
    storage.setItem("k", "not base64!");
    expect(storageCache(storage, "k")!.load()).toEqual([]);
    expect(storage.getItem("k")).toBeNull();
    storageCache(storage, "k")!.save(generation()); // over the quota
    expect(storage.getItem("k")).toBeNull();
  });
});
