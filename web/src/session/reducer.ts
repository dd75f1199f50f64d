// The session page's state is a pure function of the session's event log.
//
// Invariants (the server numbers events 1, 2, 3, ... with no holes; see
// session.proto, SessionEvent):
//  1. An event is applied only if its seq is exactly lastSeq + 1. So after
//     any sequence of (re)connections the state equals the state of the log
//     prefix 1..lastSeq: nothing shown twice, nothing missing.
//  2. An event with seq <= lastSeq is a duplicate (a replay after
//     reconnecting) and is dropped; the state does not change.
//  3. An event with seq > lastSeq + 1 is a gap: it is not applied and the
//     caller must reconnect with after_seq = lastSeq (see stream.ts).
//  4. The reducer never mutates its input; unchanged parts are shared.
//  5. Compaction (docs/replication.md, "Log compaction") removes file chunks
//     of stored versions from the log; a replay from before it starts with a
//     LogCompacted notice (seq 0) naming the range [fromSeq, toSeq] in which
//     seqs may be missing. The notice changes no seq; after it a skip of
//     seqs up to toSeq is not a gap. A file whose chunks were compacted is
//     done with compacted set: its content is fetched (GetFile), not streamed.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Phase, type Blueprint, type ChangeCard, type Diagnostic, type SessionEvent, type Version } from "../gen/stich/v1/session_pb";

export type Outcome = "applied" | "duplicate" | "gap";

export interface FileState {
  path: string;
  purpose: string;
  /** Content as streamed so far (complete once done is true). */
  content: string;
  /** Bytes of content in UTF-8, kept incrementally. */
  bytes: number;
  done: boolean;
  /** Size and SHA-256 announced by FileDone. */
  size?: number;
  sha256?: string;
  /** FileDone announced a size that differs from what was streamed. */
  mismatch: boolean;
  /** Seq of the event that last changed the file. */
  seq: number;
  /** How many times the file was (re)written. */
  writes: number;
  /** Its chunks were compacted away: content is empty and must be fetched (GetFile). */
  compacted?: boolean;
}

export interface TimelineEntry {
  /** Seq of the PhaseChanged event that began the entry. */
  seq: number;
  phase: Phase;
  index: number;
  name: string;
  description: string;
  startedAt: number;
  /** When the next phase began; undefined while the phase runs (or for terminal phases). */
  endedAt?: number;
  /** Files started during this phase, in order, without repeats. */
  files: string[];
  /** The sub-steps of the phase's last check (install, typecheck, bundle, runtime, review), in order. */
  steps?: readonly CheckStepView[];
}

/** CheckStepView is one sub-step of a check: running while endedAt is undefined. */
export interface CheckStepView {
  step: string;
  startedAt: number;
  endedAt?: number;
  durationMs?: number;
  outcome?: string;
}

/** CHECK_STEP_LABEL names a check's sub-steps for people. */
export const CHECK_STEP_LABEL: Record<string, string> = {
  install: "installing dependencies",
  typecheck: "type-checking",
  bundle: "bundling",
  runtime: "runtime check",
  review: "reviewing",
};

/** runningStep returns the sub-step of the last timeline entry that is still running, if any. */
export function runningStep(v: SessionView | undefined): CheckStepView | undefined {
  const last = v?.timeline[v.timeline.length - 1];
  if (!last?.steps || v?.phase === Phase.STOPPED || v?.phase === Phase.FAILED) return undefined;
  return last.steps.find((s) => s.endedAt === undefined);
}

export interface ChatEntry {
  seq: number;
  time: number;
  role: "user" | "assistant" | "system";
  text: string;
  /** What a refinement changed and did not do (role "system"). */
  card?: ChangeCard;
}

/** CheckResult is the outcome of the last sandbox check (or that none ran). */
export interface CheckResult {
  seq: number;
  /** The newest version when the result arrived: a save of version n is checked once afterVersion >= n. */
  afterVersion: number;
  state: "checked" | "not-checked" | "failed";
  text: string;
}

export type LogKind = "log" | "diagnostic" | "fix" | "error" | "stopped" | "resumed" | "preview" | "completed" | "version";

export interface LogEntry {
  seq: number;
  time: number;
  kind: LogKind;
  level: "info" | "warn" | "error";
  source: string;
  text: string;
  /** Extra lines (diagnostics, before/after of a fix). */
  detail?: string;
}

export interface Completion {
  seq: number;
  files: number;
  phases: number;
  durationMs: number;
}

export interface SessionView {
  /** Seq of the last applied event; 0 before any. */
  lastSeq: number;
  /** Events applied (equals lastSeq when the log was followed from 1). */
  applied: number;
  /** Replayed events dropped because they were already applied. */
  duplicates: number;
  /** Gaps detected (each triggers a reconnect). */
  gaps: number;
  prompt: string;
  providerLabel: string;
  model: string;
  phase: Phase;
  blueprint?: Blueprint;
  files: Readonly<Record<string, FileState>>;
  /** File paths in the order they first appeared. */
  fileOrder: readonly string[];
  timeline: readonly TimelineEntry[];
  chat: readonly ChatEntry[];
  logs: readonly LogEntry[];
  /** Log entries dropped from the front to bound memory. */
  logsDropped: number;
  previewUrl?: string;
  /** Seq of the last preview_ready event: a new build of the same URL reloads the preview. */
  previewSeq?: number;
  /** Seq of the runtime check's end for the current build when it took a screenshot (the check runs after the preview is ready). */
  screenshotSeq?: number;
  lastCompletion?: Completion;
  /** Versions of the app, oldest first (one per completed generation, refinement or rollback). */
  versions: readonly Version[];
  /** The last error event, cleared when work resumes. */
  error?: { code: string; message: string; retryable: boolean };
  /** The current problems: each tool's last report (a new preview build clears the runtime ones). */
  problems: Readonly<Record<string, readonly Diagnostic[]>>;
  lastCheck?: CheckResult;
  /** The compacted range announced by a LogCompacted notice (invariant 5). */
  compacted?: { fromSeq: number; toSeq: number; version: number };
}

/** NOT_CHECKED starts the log line of an edit on a server that runs no builds (pipeline.NotCheckedText). */
export const NOT_CHECKED = "not checked:";

/** currentProblems lists the current problems of all tools (errors and warnings). */
export function currentProblems(v: SessionView): Diagnostic[] {
  return Object.values(v.problems).flat();
}

/** FixOffer says whether the page offers the fixer, and what a requested fix did. */
export interface FixOffer {
  /** Offer "Fix problems": the checked current state has problems, the session is idle, and the fixer has not run on it. */
  show: boolean;
  /** The newest version is the user's own edit (the fixer never runs on those unless asked). */
  userEdit: boolean;
  count: number;
  /** A fix was asked for (after seq asked) and its card has not arrived. */
  fixing: boolean;
  /** The card of the fix asked for, once it arrived. */
  result?: ChangeCard;
}

/**
 * fixOffer decides the "Fix problems" offer. asked is the log's last seq and
 * the newest version when the user asked for a fix (undefined: not asked);
 * the fix's change card (request "fix problems") after it ends the wait,
 * and is shown until a later version (a new edit) makes it stale.
 */
export function fixOffer(v: SessionView, idle: boolean, asked?: { seq: number; version: number }): FixOffer {
  const count = currentProblems(v).length;
  const latest = v.versions.at(-1);
  const reason = latest?.reason ?? "";
  const userEdit = reason.startsWith("edited ") || reason.startsWith("rollback");
  let result: ChangeCard | undefined;
  if (asked !== undefined) {
    for (const m of v.chat) if (m.seq > asked.seq && m.card?.request === "fix problems") result = m.card;
    if (result && (latest?.number ?? 0) > Math.max(result.version, asked.version)) {
      return fixOffer(v, idle); // stale: a later change came after the fix
    }
  }
  const fixing = asked !== undefined && result === undefined;
  const checked = v.lastCheck !== undefined && v.lastCheck.state === "checked" && v.lastCheck.afterVersion >= (latest?.number ?? 0);
  // The fixer ran after a generation or a fix already: only an edit (or a rollback) is new to it.
  const show = idle && count > 0 && checked && userEdit && !fixing && result === undefined;
  return { show, userEdit, count, fixing, result };
}

/** problemsByFile counts the current problems per file path. */
export function problemsByFile(v: SessionView): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of currentProblems(v)) {
    const f = d.file.replace(/^\/+/, "");
    if (f) out[f] = (out[f] ?? 0) + 1;
  }
  return out;
}

/** MAX_LOGS bounds the log panel; older entries are dropped (and counted). */
export const MAX_LOGS = 2000;

export function initialView(): SessionView {
  return {
    lastSeq: 0,
    applied: 0,
    duplicates: 0,
    gaps: 0,
    prompt: "",
    providerLabel: "",
    model: "",
    phase: Phase.UNSPECIFIED,
    files: {},
    fileOrder: [],
    timeline: [],
    chat: [],
    logs: [],
    logsDropped: 0,
    versions: [],
    problems: {},
  };
}

/** ACTIVE phases are those in which the agent works (Stop applies). */
export function isActive(p: Phase): boolean {
  return p === Phase.PLANNING || p === Phase.GENERATING || p === Phase.REVIEWING || p === Phase.FIXING;
}

/** PHASE_LABEL names each phase for people. */
export const PHASE_LABEL: Record<Phase, string> = {
  [Phase.UNSPECIFIED]: "waiting",
  [Phase.PLANNING]: "planning",
  [Phase.GENERATING]: "generating",
  [Phase.REVIEWING]: "reviewing",
  [Phase.FIXING]: "fixing",
  [Phase.COMPLETED]: "completed",
  [Phase.STOPPED]: "stopped",
  [Phase.FAILED]: "failed",
};

const encoder = new TextEncoder();

function utf8Length(s: string): number {
  // Fast path for ASCII, which generated code mostly is.
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? s.length : encoder.encode(s).length;
}

/** seqOf returns an event's seq as a number (seqs stay far below 2^53). */
export function seqOf(ev: SessionEvent): number {
  return Number(ev.seq);
}

/** classify tells what [apply] would do with ev, without applying it. */
export function classify(s: SessionView, ev: SessionEvent): Outcome {
  if (ev.event.case === "logCompacted") return "applied";
  const seq = seqOf(ev);
  if (seq <= s.lastSeq) return "duplicate";
  if (seq !== s.lastSeq + 1 && !(s.compacted && seq - 1 <= s.compacted.toSeq)) return "gap";
  return "applied";
}

/**
 * apply folds one event into the view. See the invariants at the top of
 * this file: only seq === lastSeq + 1 changes the state.
 */
export function apply(s: SessionView, ev: SessionEvent): { view: SessionView; outcome: Outcome } {
  const outcome = classify(s, ev);
  if (outcome === "duplicate") return { view: { ...s, duplicates: s.duplicates + 1 }, outcome };
  if (outcome === "gap") return { view: { ...s, gaps: s.gaps + 1 }, outcome };
  if (ev.event.case === "logCompacted") {
    // A notice (seq 0): seqs up to toSeq may be missing from here on.
    const c = ev.event.value;
    const toSeq = Math.max(Number(c.toSeq), s.compacted?.toSeq ?? 0);
    return { view: { ...s, compacted: { fromSeq: Number(c.fromSeq), toSeq, version: c.version } }, outcome };
  }
  const seq = seqOf(ev);
  const time = ev.time ? timestampMs(ev.time) : 0;
  let v: SessionView = { ...s, lastSeq: seq, applied: s.applied + 1 };
  const e = ev.event;
  switch (e.case) {
    case "generationStarted":
      v.prompt = e.value.prompt;
      v.providerLabel = e.value.providerLabel;
      v.model = e.value.model;
      v.error = undefined;
      break;
    case "generationStopped":
      v = log(v, { seq, time, kind: "stopped", level: "warn", source: "session", text: `Stopped: ${e.value.reason}` });
      break;
    case "generationResumed":
      v.error = undefined;
      v = log(v, {
        seq,
        time,
        kind: "resumed",
        level: "info",
        source: "session",
        text: `Resumed (${PHASE_LABEL[e.value.phase]}): ${e.value.reason}`,
      });
      break;
    case "phaseChanged": {
      const p = e.value;
      v.phase = p.phase;
      const timeline = v.timeline.slice();
      const prev = timeline[timeline.length - 1];
      if (prev && prev.endedAt === undefined && !isTerminal(prev.phase)) {
        timeline[timeline.length - 1] = { ...prev, endedAt: time };
      }
      timeline.push({
        seq,
        phase: p.phase,
        index: p.index,
        name: p.name,
        description: p.description,
        startedAt: time,
        files: [],
      });
      v.timeline = timeline;
      if (isActive(p.phase)) v.error = undefined;
      break;
    }
    case "blueprint":
      v.blueprint = e.value.blueprint;
      break;
    case "checkStep":
      v = checkStep(v, e.value.step, e.value.ended, time, Number(e.value.durationMs), e.value.outcome);
      break;
    case "fileStarted": {
      const { path, purpose } = e.value;
      const old = v.files[path];
      v.files = {
        ...v.files,
        [path]: {
          path,
          purpose: purpose || old?.purpose || "",
          content: "",
          bytes: 0,
          done: false,
          mismatch: false,
          seq,
          writes: (old?.writes ?? 0) + 1,
        },
      };
      if (!old) v.fileOrder = [...v.fileOrder, path];
      v = touchPhaseFiles(v, path);
      break;
    }
    case "fileChunk": {
      const { path, data } = e.value;
      const old = v.files[path];
      if (!old) {
        // A chunk without FileStarted (should not happen): show it anyway.
        v.files = {
          ...v.files,
          [path]: { path, purpose: "", content: data, bytes: utf8Length(data), done: false, mismatch: false, seq, writes: 1 },
        };
        v.fileOrder = [...v.fileOrder, path];
      } else {
        v.files = {
          ...v.files,
          [path]: { ...old, content: old.content + data, bytes: old.bytes + utf8Length(data), done: false, seq },
        };
      }
      break;
    }
    case "fileDone": {
      const { path, sha256 } = e.value;
      const size = Number(e.value.size);
      const old = v.files[path];
      const base: FileState = old ?? { path, purpose: "", content: "", bytes: 0, done: false, mismatch: false, seq, writes: 1 };
      // Chunks compacted away (invariant 5), all or those after the last one
      // applied (a page that saw part of the stream): the content is fetched.
      const compacted = base.bytes !== size && v.compacted !== undefined && base.seq < v.compacted.toSeq;
      const f: FileState = { ...base, done: true, size, sha256, mismatch: !compacted && base.bytes !== size, seq };
      if (compacted) f.compacted = true;
      else delete f.compacted;
      v.files = { ...v.files, [path]: f };
      if (!old) v.fileOrder = [...v.fileOrder, path];
      break;
    }
    case "fileDeleted": {
      const { path } = e.value;
      if (v.files[path]) {
        const files = { ...v.files };
        delete files[path];
        v.files = files;
        v.fileOrder = v.fileOrder.filter((p) => p !== path);
      }
      v = log(v, { seq, time, kind: "log", level: "info", source: "files", text: `Deleted ${path}` });
      break;
    }
    case "diagnostics": {
      const d = e.value;
      v.problems = { ...v.problems, [d.tool || "analysis"]: d.diagnostics.filter((x) => x.severity !== "info") };
      const n = d.diagnostics.length;
      const errors = d.diagnostics.filter((x) => x.severity === "" || x.severity === "error").length;
      v = log(v, {
        seq,
        time,
        kind: "diagnostic",
        level: n === 0 ? "info" : errors > 0 ? "error" : "warn",
        source: d.tool || "analysis",
        text: n === 0 ? `${d.tool || "analysis"}: no problems found` : `${d.tool || "analysis"}: ${n} problem${n === 1 ? "" : "s"}`,
        detail:
          n === 0
            ? undefined
            : d.diagnostics
                .map((x) => `${x.file}${x.line ? `:${x.line}${x.column ? `:${x.column}` : ""}` : ""} ${x.severity || "error"} ${x.code}: ${x.message}`)
                .join("\n"),
      });
      break;
    }
    case "fixApplied": {
      const f = e.value;
      v = log(v, {
        seq,
        time,
        kind: "fix",
        level: "info",
        source: "fixer",
        text: `Fixed ${f.code} in ${f.file}: ${f.description}`,
        detail: f.before || f.after ? `- ${f.before}\n+ ${f.after}` : undefined,
      });
      break;
    }
    case "previewReady":
      v.previewUrl = e.value.url;
      v.previewSeq = seq;
      v.screenshotSeq = undefined;
      if (v.problems.runtime) {
        const problems = { ...v.problems };
        delete problems.runtime;
        v.problems = problems;
      }
      v = log(v, { seq, time, kind: "preview", level: "info", source: "preview", text: `Preview ready at ${e.value.url}` });
      break;
    case "runtimeChecked": {
      const r = e.value;
      if (r.screenshot && v.previewSeq !== undefined) v.screenshotSeq = seq;
      const checked = r.status === "checked";
      const n = r.problems;
      v = log(v, {
        seq,
        time,
        kind: "preview",
        level: checked && n > 0 ? "warn" : "info",
        source: "runtime",
        text: checked
          ? `Runtime check: ${n === 0 ? "no problems" : `${n} problem${n === 1 ? "" : "s"}`} (${formatDuration(Number(r.durationMs))})`
          : `Runtime ${r.status}`,
      });
      break;
    }
    case "log": {
      const l = e.value;
      const level = l.level === "error" ? "error" : l.level === "warn" || l.level === "warning" ? "warn" : "info";
      v = log(v, { seq, time, kind: "log", level, source: l.source || "agent", text: l.text });
      if (l.source === "sandbox") {
        const afterVersion = v.versions.at(-1)?.number ?? 0;
        if (l.text.startsWith("checked the app")) v.lastCheck = { seq, afterVersion, state: "checked", text: l.text };
        else if (l.text.startsWith(NOT_CHECKED)) v.lastCheck = { seq, afterVersion, state: "not-checked", text: l.text };
        else if (level === "error") v.lastCheck = { seq, afterVersion, state: "failed", text: l.text };
      }
      break;
    }
    case "changeCard": {
      const c = e.value;
      v.chat = [...v.chat, { seq, time, role: "system", text: changeSummary(c), card: c }];
      break;
    }
    case "message": {
      const role = e.value.role === "user" || e.value.role === "assistant" ? e.value.role : "system";
      v.chat = [...v.chat, { seq, time, role, text: e.value.text }];
      break;
    }
    case "error": {
      const x = e.value;
      v.error = { code: x.code, message: x.message, retryable: x.retryable };
      v = log(v, { seq, time, kind: "error", level: "error", source: x.code || "error", text: x.message });
      break;
    }
    case "completed": {
      const c = e.value;
      v.lastCompletion = { seq, files: c.files, phases: c.phases, durationMs: Number(c.durationMs) };
      v = log(v, {
        seq,
        time,
        kind: "completed",
        level: "info",
        source: "session",
        text: `Completed: ${c.files} files, ${c.phases} phases in ${formatDuration(Number(c.durationMs))}`,
      });
      break;
    }
    case "versionCreated": {
      const ver = e.value.version;
      if (ver) {
        v.versions = [...v.versions.filter((x) => x.number !== ver.number), ver];
        v = log(v, { seq, time, kind: "version", level: "info", source: "versions", text: `Version ${ver.number} recorded: ${ver.reason}` });
      }
      break;
    }
    case undefined:
      // An event kind this UI does not know yet (newer server): it still
      // counts for seq bookkeeping.
      break;
  }
  return { view: v, outcome: "applied" };
}

/**
 * applyAll folds events in order and stops at the first gap. It returns the
 * view, how many events it consumed, and whether it stopped on a gap.
 */
export function applyAll(s: SessionView, events: readonly SessionEvent[]): { view: SessionView; gap: boolean } {
  let v = s;
  for (const ev of events) {
    const r = apply(v, ev);
    v = r.view;
    if (r.outcome === "gap") return { view: v, gap: true };
  }
  return { view: v, gap: false };
}

function isTerminal(p: Phase): boolean {
  return p === Phase.COMPLETED || p === Phase.STOPPED || p === Phase.FAILED;
}

function log(v: SessionView, entry: LogEntry): SessionView {
  let logs = [...v.logs, entry];
  let dropped = v.logsDropped;
  if (logs.length > MAX_LOGS) {
    const cut = logs.length - MAX_LOGS;
    logs = logs.slice(cut);
    dropped += cut;
  }
  return { ...v, logs, logsDropped: dropped };
}

/**
 * checkStep records a check's sub-step on the last timeline entry. A step
 * starting again (a newer check: the next fix round, another edit) begins
 * a new list, so an entry shows its last check's steps.
 */
function checkStep(v: SessionView, step: string, ended: boolean, time: number, durationMs: number, outcome: string): SessionView {
  const last = v.timeline[v.timeline.length - 1];
  if (!last) return v;
  let steps = (last.steps ?? []).slice();
  if (!ended) {
    if (steps.some((s) => s.step === step)) steps = [];
    steps.push({ step, startedAt: time });
  } else {
    let i = -1;
    for (let j = steps.length - 1; j >= 0; j--) {
      if (steps[j].step === step && steps[j].endedAt === undefined) {
        i = j;
        break;
      }
    }
    const done = { endedAt: time, durationMs, outcome };
    if (i >= 0) steps[i] = { ...steps[i], ...done };
    else steps.push({ step, startedAt: time - durationMs, ...done });
  }
  const timeline = v.timeline.slice();
  timeline[timeline.length - 1] = { ...last, steps };
  return { ...v, timeline };
}

function touchPhaseFiles(v: SessionView, path: string): SessionView {
  const last = v.timeline[v.timeline.length - 1];
  if (!last || last.files.includes(path)) return v;
  const timeline = v.timeline.slice();
  timeline[timeline.length - 1] = { ...last, files: [...last.files, path] };
  return { ...v, timeline };
}

/** formatDuration renders milliseconds as "850 ms", "4.2 s" or "3 min 5 s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const m = Math.floor(ms / 60_000);
  const sec = Math.round((ms % 60_000) / 1000);
  return `${m} min ${sec} s`;
}

/** formatBytes renders a size as "512 B", "3.4 KB" or "1.2 MB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** changeSummary says in one line what a change card reports. */
export function changeSummary(c: ChangeCard): string {
  if (c.files.length === 0) return c.notDone.length > 0 ? "Nothing changed (no new version)." : "No changes: no new version was made.";
  const n = c.files.length;
  return `Changed ${n} file${n === 1 ? "" : "s"}${c.version ? ` (version ${c.version})` : ""}.`;
}
