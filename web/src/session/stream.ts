// SessionStore follows one session's event log over ONE Watch stream (a
// browser allows only 6 HTTP/1.1 connections per origin) and folds it into a
// [SessionView] with the reducer.
//
// Contract:
//  1. Every (re)connection asks for after_seq = the view's lastSeq, so the
//     view never misses or repeats an event (reducer.ts, invariants 1–3).
//  2. A gap in seqs ends the current stream and reconnects at once from
//     lastSeq; repeated gaps back off like errors.
//  3. Errors that retrying cannot fix (not_found, invalid_argument) stop the
//     store with a [Problem]; anything else (the server restarting, the
//     network dropping) reconnects with capped exponential backoff, and
//     [SessionStore.retryNow] skips the wait.
//  4. Listeners are told about changes at most once per scheduled flush
//     (an animation frame in the browser), so a burst of chunks renders once.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { SessionEventSchema, type SessionEvent } from "../gen/stich/v1/session_pb";
import { describe, type Problem } from "../api";
import { apply, applyAll, initialView, type SessionView } from "./reducer";

/** WatchFn opens the session's event stream after afterSeq. */
export type WatchFn = (afterSeq: bigint, signal: AbortSignal) => AsyncIterable<SessionEvent>;

export type ConnectionState = "connecting" | "live" | "waiting" | "failed" | "closed";

export interface ConnectionStatus {
  state: ConnectionState;
  /** Failed attempts since the last event received. */
  attempt: number;
  /** Successful stream opens, including the first. */
  connects: number;
  /** When state is "waiting": epoch ms of the next attempt. */
  retryAt?: number;
  /** Why the last attempt failed (or why the store gave up). */
  problem?: Problem;
}

export interface Snapshot {
  view: SessionView;
  status: ConnectionStatus;
}

export interface StoreOptions {
  watch: WatchFn;
  /** Waits ms or until signal aborts. Default: setTimeout. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Schedules a listener flush. Default: requestAnimationFrame (setTimeout without a DOM). */
  schedule?: (fn: () => void) => void;
  /** Delay before retry n (1-based). Default: 500 ms · 2^(n-1), at most 10 s. */
  backoff?: (attempt: number) => number;
  now?: () => number;
  /** Keeps the events seen, so the page shows them at once next time (even with the server down). */
  cache?: EventCache;
}

/** EventCache stores a session's event log (a prefix of it: 1..n). */
export interface EventCache {
  load(): SessionEvent[];
  save(events: readonly SessionEvent[]): void;
}

/** MAX_CACHE_BYTES bounds what storageCache keeps: a larger log is not cached (sessionStorage holds ~5 MB). */
export const MAX_CACHE_BYTES = 3 * 1024 * 1024;

/**
 * storageCache keeps the log in a Storage (sessionStorage: per tab, gone
 * with it) under key, as base64 binary events. A log that does not fit is
 * dropped rather than kept in part; a corrupt entry loads as empty.
 */
export function storageCache(storage: Storage | undefined, key: string): EventCache | undefined {
  if (!storage) return undefined;
  const encoded: string[] = [];
  let bytes = 0;
  return {
    load() {
      try {
        const raw = storage.getItem(key);
        if (!raw) return [];
        const out = raw.split(",").map((b64) => fromBinary(SessionEventSchema, Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))));
        out.forEach((e, i) => {
          if (Number(e.seq) !== i + 1) throw new Error("not a log prefix");
        });
        encoded.push(...raw.split(","));
        bytes = raw.length;
        return out;
      } catch {
        storage.removeItem(key);
        return [];
      }
    },
    save(events) {
      for (const e of events.slice(encoded.length)) {
        const b = toBinary(SessionEventSchema, e);
        let s = "";
        for (const x of b) s += String.fromCharCode(x);
        const b64 = btoa(s);
        encoded.push(b64);
        bytes += b64.length + 1;
      }
      try {
        if (bytes > MAX_CACHE_BYTES) storage.removeItem(key);
        else storage.setItem(key, encoded.join(","));
      } catch {
        storage.removeItem(key); // over quota: keep nothing rather than a stale prefix
      }
    },
  };
}

const FATAL = new Set(["not_found", "invalid_argument", "permission_denied", "unauthenticated", "unimplemented"]);

export function defaultBackoff(attempt: number): number {
  return Math.min(500 * 2 ** Math.max(0, attempt - 1), 10_000);
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

function defaultSchedule(fn: () => void) {
  if (typeof requestAnimationFrame === "function" && typeof document !== "undefined" && !document.hidden) {
    // rAF does not run in background tabs; the timeout makes sure we flush.
    let ran = false;
    const once = () => {
      if (!ran) {
        ran = true;
        fn();
      }
    };
    requestAnimationFrame(once);
    setTimeout(once, 100);
  } else {
    setTimeout(fn, 0);
  }
}

export class SessionStore {
  private snap: Snapshot = { view: initialView(), status: { state: "connecting", attempt: 0, connects: 0 } };
  private listeners = new Set<() => void>();
  private flushPending = false;
  private running = false;
  private closed = false;
  /** Aborts the open stream (gap, close). */
  private streamAbort?: AbortController;
  /** Aborts the backoff wait (retryNow, close). */
  private waitAbort?: AbortController;
  private readonly opts: Required<Omit<StoreOptions, "cache">>;
  private readonly cache?: EventCache;
  /** The applied events, in order, while a cache keeps them. */
  private events: SessionEvent[] = [];
  private saveTimer?: ReturnType<typeof setTimeout>;

  constructor(opts: StoreOptions) {
    this.opts = {
      sleep: defaultSleep,
      schedule: defaultSchedule,
      backoff: defaultBackoff,
      now: () => Date.now(),
      ...opts,
    };
    this.cache = opts.cache;
    if (this.cache) {
      // The last-seen log first: the page never starts blank.
      const cached = this.cache.load();
      const r = applyAll(initialView(), cached);
      if (!r.gap) {
        this.events = cached;
        this.snap = { ...this.snap, view: r.view };
      }
    }
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getSnapshot = (): Snapshot => this.snap;

  /** start begins following the log (once). The returned promise settles when the store closes or gives up. */
  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    this.running = true;
    return this.loop();
  }

  /** close ends the stream for good. */
  close() {
    this.closed = true;
    if (this.saveTimer !== undefined) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.cache?.save(this.events);
    }
    this.streamAbort?.abort();
    this.waitAbort?.abort();
    this.setStatus({ ...this.snap.status, state: "closed", retryAt: undefined });
  }

  /** retryNow skips the current backoff wait; after a fatal problem it starts again. */
  retryNow() {
    if (this.closed) return;
    if (this.snap.status.state === "failed") {
      this.setStatus({ state: "connecting", attempt: 0, connects: this.snap.status.connects });
      this.running = true;
      void this.loop();
      return;
    }
    this.waitAbort?.abort();
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      this.setStatus({ ...this.snap.status, state: "connecting", attempt, retryAt: undefined });
      const ac = new AbortController();
      this.streamAbort = ac;
      let gap = false;
      let failure: unknown;
      let opened = false;
      try {
        const it = this.opts.watch(BigInt(this.snap.view.lastSeq), ac.signal);
        for await (const ev of it) {
          if (!opened) {
            opened = true;
            this.setStatus({ state: "live", attempt: 0, connects: this.snap.status.connects + 1 });
          }
          const r = apply(this.snap.view, ev);
          this.setView(r.view);
          if (r.outcome === "applied" && this.cache) {
            this.events.push(ev);
            this.saveSoon();
          }
          if (r.outcome === "gap") {
            gap = true;
            break;
          }
          attempt = 0;
        }
      } catch (err) {
        failure = err;
      } finally {
        ac.abort();
      }
      if (this.closed) break;
      if (failure === undefined && !gap) {
        // The server ended the stream without an error (it does so only when
        // shutting down): reconnect after a short pause.
        attempt++;
        await this.wait(attempt, {
          code: "unavailable",
          title: "The event stream ended",
          detail: "The server closed the connection; reconnecting.",
          retryable: true,
        });
        continue;
      }
      if (gap) {
        // Reconnect from lastSeq right away the first time; back off if gaps repeat.
        attempt++;
        if (attempt > 1) {
          await this.wait(attempt, {
            code: "data_loss",
            title: "Events arrived out of order",
            detail: `Reconnecting from event ${this.snap.view.lastSeq}.`,
            retryable: true,
          });
        }
        continue;
      }
      const problem = describe(failure, "follow the session");
      if (FATAL.has(problem.code)) {
        this.running = false;
        this.setStatus({ state: "failed", attempt: attempt + 1, connects: this.snap.status.connects, problem });
        return;
      }
      attempt++;
      await this.wait(attempt, problem);
    }
  }

  private async wait(attempt: number, problem: Problem) {
    const ms = this.opts.backoff(attempt);
    const ac = new AbortController();
    this.waitAbort = ac;
    this.setStatus({ ...this.snap.status, state: "waiting", attempt, retryAt: this.opts.now() + ms, problem });
    await this.opts.sleep(ms, ac.signal);
  }

  /** saveSoon writes the cache at most once a second. */
  private saveSoon() {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.cache?.save(this.events);
    }, 1000);
  }

  private setView(view: SessionView) {
    this.snap = { ...this.snap, view };
    this.scheduleFlush();
  }

  private setStatus(status: ConnectionStatus) {
    this.snap = { ...this.snap, status };
    this.scheduleFlush();
  }

  private scheduleFlush() {
    if (this.flushPending) return;
    this.flushPending = true;
    this.opts.schedule(() => {
      this.flushPending = false;
      for (const fn of this.listeners) fn();
    });
  }
}
