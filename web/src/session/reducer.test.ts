import { describe, expect, it } from "vitest";
import { Phase, type SessionEvent } from "../gen/stich/v1/session_pb";
import { apply, applyAll, classify, currentProblems, fixOffer, formatDuration, initialView, MAX_LOGS, problemsByFile, runningStep, type SessionView } from "./reducer";
import { changeCard, checkStep, chunk, compact, compactedNotice, diagnostics, ev, fileDone, fileStarted, generation, logLine, message, phase, T0, versionCreated } from "./testevents";

function fold(events = generation()): SessionView {
  const r = applyAll(initialView(), events);
  expect(r.gap).toBe(false);
  return r.view;
}

describe("reducer: seq bookkeeping", () => {
  it("applies a contiguous log and counts every event once", () => {
    const log = generation();
    const v = fold(log);
    expect(v.lastSeq).toBe(log.length);
    expect(v.applied).toBe(log.length);
    expect(v.duplicates).toBe(0);
    expect(v.gaps).toBe(0);
  });

  it("drops replayed events: the state after a full replay equals the state before it", () => {
    const log = generation();
    const once = fold(log);
    const twice = applyAll(once, log).view;
    expect(twice.duplicates).toBe(log.length);
    expect({ ...twice, duplicates: 0 }).toEqual(once);
    expect(twice.files["src/App.tsx"].content).toBe(once.files["src/App.tsx"].content);
  });

  it("any split of the log into overlapping reconnections yields the same view", () => {
    const log = generation();
    const want = fold(log);
    for (let cut = 1; cut < log.length; cut++) {
      // First connection delivers 1..cut; the second replays from cut-2.
      let v = applyAll(initialView(), log.slice(0, cut)).view;
      v = applyAll(v, log.slice(Math.max(0, cut - 2))).view;
      expect({ ...v, duplicates: 0 }).toEqual(want);
    }
  });

  it("reports a gap, does not apply past it, and resumes once the missing events arrive", () => {
    const log = generation();
    let v = applyAll(initialView(), log.slice(0, 5)).view;
    const skipped = log[7];
    expect(classify(v, skipped)).toBe("gap");
    const r = apply(v, skipped);
    expect(r.outcome).toBe("gap");
    expect(r.view.lastSeq).toBe(5);
    expect(r.view.gaps).toBe(1);
    expect(r.view.files).toBe(v.files);
    // The reconnect asks for after_seq = 5 and receives 6.. .
    v = applyAll(r.view, log.slice(5)).view;
    expect({ ...v, gaps: 0 }).toEqual(fold(log));
  });

  it("applyAll stops at the first gap", () => {
    const log = generation();
    const r = applyAll(initialView(), [log[0], log[1], log[3], log[4]]);
    expect(r.gap).toBe(true);
    expect(r.view.lastSeq).toBe(2);
  });

  it("does not mutate its input", () => {
    const log = generation();
    const v = applyAll(initialView(), log.slice(0, 6)).view;
    const frozen = JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
    apply(v, log[6]);
    apply(v, log[2]);
    expect(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x))).toBe(frozen);
  });
});

describe("reducer: files", () => {
  it("fills files chunk by chunk and checks the announced size", () => {
    const log = generation();
    const mid = applyAll(initialView(), log.slice(0, 5)).view;
    expect(mid.files["package.json"]).toMatchObject({ content: '{"name":', done: false });
    const v = fold(log);
    expect(v.fileOrder).toEqual(["package.json", "src/App.tsx"]);
    expect(v.files["package.json"]).toMatchObject({ content: '{"name":"x"}\n', done: true, mismatch: false });
    // "é" is two bytes in UTF-8: sizes are bytes, not UTF-16 units.
    expect(v.files["src/App.tsx"].mismatch).toBe(false);
    expect(v.files["src/App.tsx"].bytes).toBe(v.files["src/App.tsx"].size);
  });

  it("flags a size mismatch", () => {
    const v = applyAll(initialView(), [ev(1, fileStarted("a.ts")), ev(2, chunk("a.ts", "abc")), ev(3, fileDone("a.ts", 4))]).view;
    expect(v.files["a.ts"].mismatch).toBe(true);
  });

  it("a rewrite starts the file over and keeps its place", () => {
    const base = fold();
    const n = base.lastSeq;
    const v = applyAll(base, [
      ev(n + 1, fileStarted("package.json")),
      ev(n + 2, chunk("package.json", "{}\n")),
      ev(n + 3, fileDone("package.json", 3)),
    ]).view;
    expect(v.files["package.json"]).toMatchObject({ content: "{}\n", writes: 2, done: true });
    expect(v.fileOrder).toEqual(["package.json", "src/App.tsx"]);
  });

  it("deletes files", () => {
    const base = fold();
    const v = apply(base, ev(base.lastSeq + 1, { case: "fileDeleted", value: { $typeName: "stich.v1.FileDeleted", path: "src/App.tsx" } })).view;
    expect(v.files["src/App.tsx"]).toBeUndefined();
    expect(v.fileOrder).toEqual(["package.json"]);
  });
});

describe("reducer: check steps", () => {
  it("records a check's sub-steps on the running phase, the running one last, and a newer check replaces them", () => {
    const events = [
      ev(1, phase(Phase.GENERATING, 0, "Foundation")),
      ev(2, phase(Phase.REVIEWING, 0, "Foundation")),
      ev(3, checkStep("install")),
      ev(4, checkStep("install", true, 90, "ok")),
      ev(5, checkStep("typecheck")),
    ];
    let v = applyAll(initialView(), events).view;
    const review = v.timeline[1];
    expect(review.steps?.map((s) => [s.step, s.endedAt !== undefined, s.durationMs, s.outcome])).toEqual([
      ["install", true, 90, "ok"],
      ["typecheck", false, undefined, undefined],
    ]);
    expect(runningStep(v)?.step).toBe("typecheck");
    v = applyAll(v, [ev(6, checkStep("typecheck", true, 300, "2 problem(s), 1 fixed")), ev(7, checkStep("bundle")), ev(8, checkStep("bundle", true, 40, "ok"))]).view;
    expect(runningStep(v)).toBeUndefined();
    expect(v.timeline[1].steps?.map((s) => s.step)).toEqual(["install", "typecheck", "bundle"]);
    expect(v.timeline[1].steps?.[1].outcome).toBe("2 problem(s), 1 fixed");
    // The next check (a fix round's) starts a new list.
    v = applyAll(v, [ev(9, checkStep("typecheck"))]).view;
    expect(v.timeline[1].steps?.map((s) => s.step)).toEqual(["typecheck"]);
    // A stopped session has no running step.
    v = applyAll(v, [ev(10, phase(Phase.STOPPED, 0))]).view;
    expect(runningStep(v)).toBeUndefined();
  });
});

describe("reducer: phase timeline", () => {
  it("records each phase with its name, files and duration", () => {
    const v = fold();
    expect(v.phase).toBe(Phase.COMPLETED);
    expect(v.timeline.map((t) => [t.phase, t.name])).toEqual([
      [Phase.PLANNING, "Blueprint"],
      [Phase.GENERATING, "Foundation"],
      [Phase.REVIEWING, "Foundation"],
      [Phase.COMPLETED, ""],
    ]);
    const gen = v.timeline[1];
    expect(gen.files).toEqual(["package.json", "src/App.tsx"]);
    // GENERATING began at seq 3 and REVIEWING at seq 12 (100 ms apart each).
    expect(gen.startedAt).toBe(T0 + 300);
    expect(gen.endedAt! - gen.startedAt).toBe(900);
    // A terminal phase has no duration.
    expect(v.timeline[3].endedAt).toBeUndefined();
    expect(v.lastCompletion).toMatchObject({ files: 2, phases: 1, durationMs: 1234 });
  });

  it("a refinement after completion appends to the timeline and the chat", () => {
    const base = fold();
    const n = base.lastSeq;
    const v = applyAll(base, [
      ev(n + 1, message("user", "also track a notes field")),
      ev(n + 2, phase(Phase.PLANNING, 0, "Refinement")),
      ev(n + 3, message("assistant", "ok")),
      ev(n + 4, phase(Phase.GENERATING, 1, "Refinement")),
    ]).view;
    expect(v.chat.map((c) => [c.role, c.text])).toEqual([
      ["user", "also track a notes field"],
      ["assistant", "ok"],
    ]);
    expect(v.timeline.length).toBe(6);
    // The completed entry stays without a duration; the new planning entry is closed by generating.
    expect(v.timeline[3].endedAt).toBeUndefined();
    expect(v.timeline[4].endedAt).toBe(T0 + (n + 4) * 100);
    expect(v.phase).toBe(Phase.GENERATING);
  });

  it("stop, error and resume update the phase, the error and the log", () => {
    let v = applyAll(initialView(), generation().slice(0, 4)).view;
    v = applyAll(v, [
      ev(5, { case: "error", value: { $typeName: "stich.v1.ErrorEvent", code: "internal", message: "boom", retryable: true } }),
      ev(6, phase(Phase.FAILED)),
    ]).view;
    expect(v.phase).toBe(Phase.FAILED);
    expect(v.error).toEqual({ code: "internal", message: "boom", retryable: true });
    v = applyAll(v, [
      ev(7, { case: "generationResumed", value: { $typeName: "stich.v1.GenerationResumed", reason: "resumed by a client", phase: Phase.GENERATING } }),
      ev(8, phase(Phase.GENERATING, 0, "Foundation")),
    ]).view;
    expect(v.error).toBeUndefined();
    expect(v.logs.map((l) => l.kind)).toEqual(["error", "resumed"]);
  });
});

describe("reducer: versions", () => {
  it("records versions in order and a rollback re-streams the restored files", () => {
    const base = fold();
    const n = base.lastSeq;
    let v = applyAll(base, [ev(n + 1, versionCreated(1, "generation")), ev(n + 2, versionCreated(2, "refinement: notes"))]).view;
    v = applyAll(v, [
      ev(n + 3, fileStarted("package.json")),
      ev(n + 4, chunk("package.json", '{"name":"x"}\n')),
      ev(n + 5, fileDone("package.json", 13)),
      ev(n + 6, versionCreated(3, "rollback to version 1")),
    ]).view;
    expect(v.versions.map((x) => [x.number, x.reason])).toEqual([
      [1, "generation"],
      [2, "refinement: notes"],
      [3, "rollback to version 1"],
    ]);
    expect(v.files["package.json"]).toMatchObject({ content: '{"name":"x"}\n', done: true, mismatch: false, writes: 2 });
    expect(v.logs.filter((l) => l.kind === "version").length).toBe(3);
    // A rollback does not change the phase.
    expect(v.phase).toBe(Phase.COMPLETED);
  });
});

describe("reducer: logs", () => {
  it("keeps at most MAX_LOGS entries and counts the dropped ones", () => {
    let v = initialView();
    const n = MAX_LOGS + 10;
    for (let i = 1; i <= n; i++) {
      v = apply(v, ev(i, { case: "log", value: { $typeName: "stich.v1.LogLine", source: "agent", text: `line ${i}`, level: "info" } })).view;
    }
    expect(v.logs.length).toBe(MAX_LOGS);
    expect(v.logsDropped).toBe(10);
    expect(v.logs[0].text).toBe("line 11");
  });

  it("summarises diagnostics", () => {
    const v = apply(
      initialView(),
      ev(1, {
        case: "diagnostics",
        value: {
          $typeName: "stich.v1.DiagnosticsReported",
          tool: "tsc",
          diagnostics: [
            { $typeName: "stich.v1.Diagnostic", code: "TS2307", file: "src/a.ts", line: 3, column: 9, message: "Cannot find module", severity: "error" },
          ],
        },
      }),
    ).view;
    expect(v.logs[0]).toMatchObject({ kind: "diagnostic", level: "error", text: "tsc: 1 problem" });
    expect(v.logs[0].detail).toBe("src/a.ts:3:9 error TS2307: Cannot find module");
  });
});

describe("formatDuration", () => {
  it("formats", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(4200)).toBe("4.2 s");
    expect(formatDuration(185_000)).toBe("3 min 5 s");
  });
});

describe("reducer: change cards, problems and checks", () => {
  it("a change card becomes a system chat entry that keeps the card", () => {
    const log = generation();
    let v = fold(log);
    const n = log.length;
    v = applyAll(v, [
      ev(n + 1, changeCard(2, [{ path: "src/App.tsx", change: "modified", added: 3, removed: 1 }, { path: "src/new.ts", change: "added", added: 2 }], ["kept your edits in x"])),
      ev(n + 2, changeCard(0, [])),
    ]).view;
    const [a, b] = v.chat.slice(-2);
    expect(a.role).toBe("system");
    expect(a.card?.files.map((f) => f.path)).toEqual(["src/App.tsx", "src/new.ts"]);
    expect(a.text).toBe("Changed 2 files (version 2).");
    expect(b.text).toBe("No changes: no new version was made.");
  });

  it("problems are each tool's last report; a new preview clears runtime errors", () => {
    const n = generation().length;
    let v = fold();
    v = applyAll(v, [ev(n + 1, diagnostics("tsc", ["src/App.tsx", "src/App.tsx", "/src/b.ts"])), ev(n + 2, diagnostics("runtime", ["src/c.ts"]))]).view;
    expect(currentProblems(v)).toHaveLength(4);
    expect(problemsByFile(v)).toEqual({ "src/App.tsx": 2, "src/b.ts": 1, "src/c.ts": 1 });
    v = applyAll(v, [ev(n + 3, diagnostics("tsc", [])), ev(n + 4, { case: "previewReady", value: { $typeName: "stich.v1.PreviewReady", url: "http://p/" } })]).view;
    expect(currentProblems(v)).toHaveLength(0);
  });

  it("the preview is ready before its runtime check: findings and the screenshot follow it", () => {
    const n = generation().length;
    let v = fold();
    v = applyAll(v, [ev(n + 1, { case: "previewReady", value: { $typeName: "stich.v1.PreviewReady", url: "http://p/" } })]).view;
    expect(v.previewUrl).toBe("http://p/");
    expect(v.screenshotSeq).toBeUndefined();
    v = applyAll(v, [
      ev(n + 2, diagnostics("runtime", ["src/c.ts"])),
      ev(n + 3, {
        case: "runtimeChecked",
        value: { $typeName: "stich.v1.RuntimeChecked", status: "checked", durationMs: 1200n, problems: 1, screenshot: true },
      }),
    ]).view;
    expect(v.problems.runtime).toHaveLength(1);
    expect(v.screenshotSeq).toBe(n + 3);
    expect(v.logs.at(-1)).toMatchObject({ source: "runtime", level: "warn", text: "Runtime check: 1 problem (1.2 s)" });
    // The next build: its preview drops the last build's screenshot and findings until its own check ends.
    v = applyAll(v, [ev(n + 4, { case: "previewReady", value: { $typeName: "stich.v1.PreviewReady", url: "http://p/" } })]).view;
    expect(v.screenshotSeq).toBeUndefined();
    expect(v.problems.runtime).toBeUndefined();
    v = applyAll(v, [
      ev(n + 5, {
        case: "runtimeChecked",
        value: { $typeName: "stich.v1.RuntimeChecked", status: "not checked: no browser", durationMs: 0n, problems: 0, screenshot: false },
      }),
    ]).view;
    expect(v.screenshotSeq).toBeUndefined();
    expect(v.logs.at(-1)).toMatchObject({ source: "runtime", level: "info", text: "Runtime not checked: no browser" });
  });

  it("records the last check's outcome with the version it came after", () => {
    const n = generation().length;
    let v = fold();
    expect(v.lastCheck).toBeUndefined();
    v = applyAll(v, [ev(n + 1, versionCreated(2, "edited a")), ev(n + 2, logLine("sandbox", "info", "not checked: this server runs no builds (--sandbox off)"))]).view;
    expect(v.lastCheck).toMatchObject({ state: "not-checked", afterVersion: 2, seq: n + 2 });
    v = applyAll(v, [ev(n + 3, logLine("sandbox", "info", "checked the app: bundle 3 ms"))]).view;
    expect(v.lastCheck).toMatchObject({ state: "checked", afterVersion: 2 });
    v = applyAll(v, [ev(n + 4, logLine("npm", "error", "npm failed"))]).view;
    expect(v.lastCheck?.state).toBe("checked");
  });
});

describe("fixOffer", () => {
  const edited = () => {
    const log = generation();
    const n = log.length;
    return fold([
      ...log,
      ev(n + 1, versionCreated(2, "edited src/App.tsx")),
      ev(n + 2, diagnostics("tsc", ["src/App.tsx", "src/App.tsx"])),
      ev(n + 3, logLine("sandbox", "info", "checked the app: type-check 10 ms, bundle 5 ms")),
    ]);
  };
  it("offers the fixer for a checked user edit with problems, only when idle", () => {
    const v = edited();
    expect(fixOffer(v, true)).toMatchObject({ show: true, userEdit: true, count: 2, fixing: false });
    expect(fixOffer(v, false).show).toBe(false);
  });
  it("waits for the check of the edit, and offers nothing without problems", () => {
    const log = generation();
    const n = log.length;
    const unchecked = fold([...log, ev(n + 1, versionCreated(2, "edited src/App.tsx")), ev(n + 2, diagnostics("tsc", ["src/App.tsx"]))]);
    expect(fixOffer(unchecked, true).show).toBe(false);
    const clean = fold([...log, ev(n + 1, versionCreated(2, "edited src/App.tsx")), ev(n + 2, logLine("sandbox", "info", "checked the app: bundle 5 ms"))]);
    expect(fixOffer(clean, true).show).toBe(false);
  });
  it("shows the fix running until its card, then the card", () => {
    const v = edited();
    const asked = { seq: v.lastSeq, version: 2 };
    expect(fixOffer(v, true, asked)).toMatchObject({ show: false, fixing: true });
    const done = applyAll(v, [
      ev(asked.seq + 1, changeCard(0, [], ["not fixed: src/App.tsx:1: bad (TS2322)"], "fix problems")),
    ]).view;
    const o = fixOffer(done, true, asked);
    expect(o.fixing).toBe(false);
    expect(o.result?.version).toBe(0);
    expect(o.result?.notDone).toHaveLength(1);
    // A refinement's card is not the fix's answer.
    const other = applyAll(v, [ev(asked.seq + 1, changeCard(3, [{ path: "a.ts", change: "modified" }]))]).view;
    expect(fixOffer(other, true, asked).fixing).toBe(true);
    // A later edit makes the fix's card stale: the offer is about the new edit.
    const later = applyAll(done, [
      ev(asked.seq + 2, versionCreated(3, "edited src/main.tsx")),
      ev(asked.seq + 3, diagnostics("tsc", ["src/main.tsx"])),
      ev(asked.seq + 4, logLine("sandbox", "info", "checked the app: bundle 5 ms")),
    ]).view;
    expect(fixOffer(later, true, asked)).toMatchObject({ result: undefined, fixing: false, show: true, count: 1 });
  });
});

describe("reducer: a compacted log (invariant 5)", () => {
  // generation(): chunks at seqs 5, 6, 9, 10; the version follows at 15.
  const log = (): SessionEvent[] => [...generation(), ev(15, versionCreated(1, "generation")), ev(16, message("user", "add a footer"))];

  it("a replay from 0 applies without a gap: same seqs, phases, chat and versions; files done and marked for fetching", () => {
    const full = fold(log());
    const r = applyAll(initialView(), compact(log(), 15, 1));
    expect(r.gap).toBe(false);
    const v = r.view;
    expect(v.gaps).toBe(0);
    expect(v.lastSeq).toBe(full.lastSeq);
    expect(v.phase).toBe(full.phase);
    expect(v.chat).toEqual(full.chat);
    expect(v.versions).toEqual(full.versions);
    expect(v.fileOrder).toEqual(full.fileOrder);
    expect(v.compacted).toEqual({ fromSeq: 5, toSeq: 10, version: 1 });
    for (const p of full.fileOrder) {
      const f = v.files[p];
      expect(f.done).toBe(true);
      expect(f.compacted).toBe(true);
      expect(f.mismatch).toBe(false);
      expect(f.size).toBe(full.files[p].size);
      expect(f.content).toBe("");
    }
  });

  it("a page that saw part of a stream before the compaction fetches the file instead of reporting a mismatch", () => {
    const seen = fold(log().slice(0, 9)); // up to the first chunk of src/App.tsx
    const r = applyAll(seen, compact(log(), 15, 1).filter((e) => Number(e.seq) === 0 || Number(e.seq) > 9));
    expect(r.gap).toBe(false);
    const f = r.view.files["src/App.tsx"];
    expect(f.done).toBe(true);
    expect(f.compacted).toBe(true);
    expect(f.mismatch).toBe(false);
    expect(r.view.lastSeq).toBe(16);
  });

  it("a file streamed whole is not marked compacted", () => {
    const v = applyAll(initialView(), [compactedNotice(5, 6, 1, 2), ...generation().slice(0, 4), ...generation().slice(6)]).view;
    expect(v.files["package.json"].compacted).toBe(true);
    expect(v.files["src/App.tsx"].compacted).toBeUndefined();
    expect(v.files["src/App.tsx"].mismatch).toBe(false);
  });

  it("the notice changes no seq and is not a duplicate, even repeated", () => {
    const n = compactedNotice(5, 10, 1, 4);
    const once = apply(initialView(), n);
    expect(once.outcome).toBe("applied");
    expect(once.view.lastSeq).toBe(0);
    const twice = apply(once.view, n);
    expect(twice.outcome).toBe("applied");
    expect(twice.view).toEqual(once.view);
  });

  it("a skip past the announced range is still a gap", () => {
    const v = apply(initialView(), compactedNotice(5, 10, 1, 4)).view;
    const w = applyAll(v, generation().slice(0, 4)).view; // seqs 1..4
    expect(classify(w, ev(11, phase(Phase.REVIEWING)))).toBe("applied");
    expect(classify(w, ev(12, phase(Phase.REVIEWING)))).toBe("gap");
  });

  it("without a notice a compacted log is a gap (the client reconnects)", () => {
    const withoutNotice = compact(log(), 15, 1).slice(1);
    expect(applyAll(initialView(), withoutNotice).gap).toBe(true);
  });

  it("a view that streamed the chunks live is unchanged by a later replay from after the range", () => {
    const full = fold(log());
    const again = applyAll(full, log().slice(10)).view;
    expect({ ...again, duplicates: 0 }).toEqual(full);
    expect(again.files["src/App.tsx"].compacted).toBeUndefined();
  });
});
