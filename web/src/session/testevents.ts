// Builders of SessionEvents for the unit tests.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Phase, SessionEventSchema, type SessionEvent } from "../gen/stich/v1/session_pb";

type Payload = SessionEvent["event"];

/** T0 is the time of event 1; event n happens n·100 ms later. */
export const T0 = Date.UTC(2026, 10, 28, 10, 0, 0);

export function ev(seq: number, event: Payload): SessionEvent {
  return create(SessionEventSchema, { seq: BigInt(seq), time: timestampFromMs(T0 + seq * 100), event });
}

export const started = (prompt = "a recipe tracker"): Payload => ({
  case: "generationStarted",
  value: { $typeName: "stich.v1.GenerationStarted", prompt, providerLabel: "scaffold (no model)", model: "" },
});

export const phase = (p: Phase, index = 0, name = ""): Payload => ({
  case: "phaseChanged",
  value: { $typeName: "stich.v1.PhaseChanged", phase: p, index, name, description: "" },
});

export const fileStarted = (path: string): Payload => ({
  case: "fileStarted",
  value: { $typeName: "stich.v1.FileStarted", path, purpose: `purpose of ${path}` },
});

export const chunk = (path: string, data: string): Payload => ({
  case: "fileChunk",
  value: { $typeName: "stich.v1.FileChunk", path, data },
});

export const fileDone = (path: string, size: number): Payload => ({
  case: "fileDone",
  value: { $typeName: "stich.v1.FileDone", path, size: BigInt(size), sha256: "x" },
});

export const message = (role: string, text: string): Payload => ({
  case: "message",
  value: { $typeName: "stich.v1.ChatMessage", role, text },
});

export const completed = (files: number, phases: number, ms: number): Payload => ({
  case: "completed",
  value: { $typeName: "stich.v1.Completed", files, phases, durationMs: BigInt(ms) },
});

/**
 * generation returns the log of a small generation: plan, one phase with two
 * files streamed in chunks, review, completion (seqs 1..n).
 */
export function generation(): SessionEvent[] {
  const bytes = (s: string) => new TextEncoder().encode(s).length;
  const payloads: Payload[] = [
    started(),
    phase(Phase.PLANNING, 0, "Blueprint"),
    phase(Phase.GENERATING, 0, "Foundation"),
    fileStarted("package.json"),
    chunk("package.json", '{"name":'),
    chunk("package.json", '"x"}\n'),
    fileDone("package.json", bytes('{"name":"x"}\n')),
    fileStarted("src/App.tsx"),
    chunk("src/App.tsx", "export default function App() {\n"),
    chunk("src/App.tsx", "  return <p>héllo</p>;\n}\n"),
    fileDone("src/App.tsx", bytes("export default function App() {\n  return <p>héllo</p>;\n}\n")),
    phase(Phase.REVIEWING, 0, "Foundation"),
    phase(Phase.COMPLETED, 0, ""),
    completed(2, 1, 1234),
  ];
  return payloads.map((p, i) => ev(i + 1, p));
}

export const versionCreated = (n: number, reason: string): Payload => ({
  case: "versionCreated",
  value: {
    $typeName: "stich.v1.VersionCreated",
    version: { $typeName: "stich.v1.Version", number: n, reason, files: 2, bytes: 100n, createdAt: timestampFromMs(T0) },
  },
});

export const changeCard = (version: number, files: { path: string; change: string; added?: number; removed?: number }[], notDone: string[] = [], request = "a change"): Payload => ({
  case: "changeCard",
  value: {
    $typeName: "stich.v1.ChangeCard",
    version,
    request,
    notDone,
    files: files.map((f) => ({
      $typeName: "stich.v1.FileChange" as const,
      path: f.path,
      change: f.change,
      mergedUserEdits: false,
      fixes: [],
      lines: f.added === undefined ? undefined : { $typeName: "stich.v1.LineCount" as const, added: f.added, removed: f.removed ?? 0 },
    })),
  },
});

export const diagnostics = (tool: string, files: string[]): Payload => ({
  case: "diagnostics",
  value: {
    $typeName: "stich.v1.DiagnosticsReported",
    tool,
    diagnostics: files.map((file) => ({ $typeName: "stich.v1.Diagnostic" as const, code: "TS2322", file, line: 1, column: 1, message: "bad", severity: "error" })),
  },
});

export const logLine = (source: string, level: string, text: string): Payload => ({
  case: "log",
  value: { $typeName: "stich.v1.LogLine", source, level, text },
});

export const checkStep = (step: string, ended = false, durationMs = 0, outcome = ""): Payload => ({
  case: "checkStep",
  value: { $typeName: "stich.v1.CheckStep", step, ended, durationMs: BigInt(durationMs), outcome },
});
/** compactedNotice is the LogCompacted notice (seq 0) a replay from before a compaction starts with. */
export function compactedNotice(fromSeq: number, toSeq: number, version: number, removed: number): SessionEvent {
  return create(SessionEventSchema, {
    seq: 0n,
    event: { case: "logCompacted", value: { $typeName: "stich.v1.LogCompacted", fromSeq: BigInt(fromSeq), toSeq: BigInt(toSeq), version, removed: BigInt(removed) } },
  });
}

/** compact is log as the server serves it after compaction: without its chunks up to toSeq, the notice first. */
export function compact(log: SessionEvent[], toSeq: number, version: number): SessionEvent[] {
  const kept = log.filter((e) => !(e.event.case === "fileChunk" && Number(e.seq) <= toSeq));
  const gone = log.filter((e) => e.event.case === "fileChunk" && Number(e.seq) <= toSeq).map((e) => Number(e.seq));
  return [compactedNotice(gone[0], gone[gone.length - 1], version, gone.length), ...kept];
}
