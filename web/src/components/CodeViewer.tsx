// CodeViewer shows one file: a line-number gutter beside a <pre>, two text
// nodes however long the file, so streaming stays cheap. Editing uses
// CodeMirror 6 (CodeEditor), loaded only when editing starts: it is ~130 KB
// gzipped, which the first load does not pay. Ctrl/Cmd+S saves; saving
// makes a new version.
import { lazy, Suspense, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { describe, sessions, type Problem } from "../api";
import type { Diagnostic } from "../gen/stich/v1/session_pb";
import { formatBytes, type CheckResult, type FileState } from "../session/reducer";
import { ProblemBox } from "./ProblemBox";

const CodeEditor = lazy(() => import("./CodeEditor"));

/** LARGE is how many characters are shown before asking (a huge file would freeze the page). */
export const LARGE = 256 * 1024;

/** MAX_SAVE is the largest file the server accepts, in UTF-8 bytes. */
export const MAX_SAVE = 512 * 1024;

interface Props {
  sessionId: string;
  file?: FileState;
  /** A path selected (e.g. from a link) that has no file (yet). */
  path?: string;
  /** Whether the agent is working (an unfinished file is then being written, else interrupted). */
  active: boolean;
  /** readOnly: the reader does not own the app (no editing). */
  readOnly?: boolean;
  /** The outcome of the last sandbox check, for the save notice. */
  lastCheck?: CheckResult;
  /** The current problems of the whole app, and of this file. */
  problemCount?: number;
  fileProblems?: readonly Diagnostic[];
  /** A line to show (from an error's link); key tells clicks apart. */
  focusLine?: { line: number; key: number };
}

/** checkNotice says what became of the check of saved version n. */
export function checkNotice(n: number, check: CheckResult | undefined, problems: number): string {
  if (!check || check.afterVersion < n) return "Checking the app…";
  switch (check.state) {
    case "not-checked":
      return "Not checked: this server runs no builds.";
    case "failed":
      return `The check could not run: ${check.text}`;
    case "checked":
      return problems === 0 ? "Checked: no problems." : `Checked: ${problems} problem${problems === 1 ? "" : "s"} (see the list below and the Logs tab).`;
  }
}

export function CodeViewer({ sessionId, file, path, active, readOnly, lastCheck, problemCount = 0, fileProblems = [], focusLine }: Props) {
  const [full, setFull] = useState(false);
  const [saved, setSaved] = useState<{ path: string; content: string }>();
  const [problem, setProblem] = useState<Problem>();
  const [copied, setCopied] = useState(false);
  const [draft, setDraft] = useState<string>();
  const [saving, setSaving] = useState(false);
  const [savedAs, setSavedAs] = useState<{ text: string; version?: number }>();
  const scroller = useRef<HTMLDivElement>(null);
  const follow = useRef(true);

  const p = file?.path ?? path;
  useEffect(() => {
    setFull(false);
    setSaved(undefined);
    setProblem(undefined);
    setDraft(undefined);
    setSavedAs(undefined);
    follow.current = true;
  }, [p]);

  // A file whose streamed chunks were compacted away (reducer invariant 5)
  // is shown from storage.
  const fetchCompacted = file?.compacted && file.done ? file.seq : 0;
  useEffect(() => {
    if (!p || !fetchCompacted) return;
    let live = true;
    sessions
      .getFile({ sessionId, path: p })
      .then((r) => live && setSaved({ path: p, content: r.file?.content ?? "" }))
      .catch((err) => live && setProblem(describe(err, "load the file")));
    return () => {
      live = false;
    };
  }, [sessionId, p, fetchCompacted]);

  const content = saved && saved.path === p ? saved.content : (file?.content ?? "");
  const large = content.length > LARGE;
  const shown = large && !full ? content.slice(0, LARGE) : content;
  const lines = useMemo(() => {
    let n = 1;
    for (let i = shown.indexOf("\n"); i !== -1 && i < shown.length - 1; i = shown.indexOf("\n", i + 1)) n++;
    let s = "";
    for (let i = 1; i <= n; i++) s += i === n ? `${i}` : `${i}\n`;
    return s;
  }, [shown]);

  // An error's link: bring its line into view (a third down the pane).
  const lineHeight = useRef(0);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || !focusLine) return;
    const code = el.querySelector("pre.code");
    const lh = code ? parseFloat(getComputedStyle(code).lineHeight) || 20 : 20;
    lineHeight.current = lh;
    follow.current = false;
    el.scrollTop = Math.max(0, (focusLine.line - 1) * lh - el.clientHeight / 3);
  }, [focusLine?.key, p, draft === undefined]);

  // While a file streams, keep its end in view unless the reader scrolled up.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && file && !file.done && follow.current) el.scrollTop = el.scrollHeight;
  }, [shown, file]);

  if (!p) return <p className="muted pad">Select a file to see its content.</p>;

  async function loadSaved() {
    if (!p) return;
    setProblem(undefined);
    try {
      const r = await sessions.getFile({ sessionId, path: p });
      setSaved({ path: p, content: r.file?.content ?? "" });
    } catch (err) {
      setProblem(describe(err, "load the saved file"));
    }
  }

  function download() {
    const url = URL.createObjectURL(new Blob([content], { type: "text/plain;charset=utf-8" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = p!.slice(p!.lastIndexOf("/") + 1);
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  async function save(text = draft) {
    if (!p || text === undefined) return;
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > MAX_SAVE) {
      setProblem({
        code: "invalid_argument",
        title: "This file is too large to save",
        detail: `It is ${formatBytes(bytes)}; a file of an app may be at most ${formatBytes(MAX_SAVE)}. Split it into smaller modules.`,
        retryable: false,
      });
      return;
    }
    setSaving(true);
    setProblem(undefined);
    try {
      const r = await sessions.saveFile({ sessionId, path: p, content: text, baseSha256: file?.sha256 ?? "" });
      setDraft(undefined);
      setSavedAs(r.version ? { text: `Saved as version ${r.version.number}.`, version: r.version.number } : { text: "No change to save." });
    } catch (err) {
      setProblem(describe(err, "save the file"));
    } finally {
      setSaving(false);
    }
  }

  async function copy() {
    try {
      await navigator.clipboard.writeText(content);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      setProblem({ code: "clipboard", title: "Could not copy", detail: "The browser refused clipboard access; select the text and copy it instead.", retryable: false });
    }
  }

  const status = !file
    ? "not written yet"
    : file.mismatch
      ? "size mismatch"
      : file.done
        ? "written"
        : active
          ? "writing…"
          : "unfinished: the work stopped while writing it; resume to finish";
  return (
    <div className="viewer" data-path={p} data-focus-line={focusLine?.line}>
      <div className="viewer-head">
        <div className="viewer-title">
          <h3 className="path" title={p}>
            {p}
          </h3>
          <span className="muted small">
            {file ? formatBytes(file.compacted ? (file.size ?? 0) : file.bytes) : ""} · <span data-testid="file-status">{status}</span>
            {file?.purpose ? ` · ${file.purpose}` : ""}
          </span>
        </div>
        <div className="row">
          {readOnly ? null : draft === undefined ? (
            <button
              type="button"
              className="btn small"
              onClick={() => {
                setSavedAs(undefined);
                setDraft(content);
              }}
              disabled={active || (file !== undefined && !file.done) || large}
              title={active ? "Stop the generation or wait for it to finish to edit" : large ? "Too large to edit here" : "Edit this file"}
            >
              Edit
            </button>
          ) : (
            <>
              <button type="button" className="btn small primary" onClick={() => void save()} disabled={saving} data-testid="save-file">
                {saving ? "Saving…" : "Save"}
              </button>
              <button type="button" className="btn small" onClick={() => setDraft(undefined)} disabled={saving}>
                Cancel
              </button>
            </>
          )}
          <button type="button" className="btn small" onClick={() => void copy()} disabled={!content}>
            {copied ? "Copied" : "Copy"}
          </button>
          <button type="button" className="btn small" onClick={download} disabled={!content}>
            Download
          </button>
        </div>
      </div>
      {file?.mismatch && !saved && (
        <ProblemBox
          problem={{
            code: "data_loss",
            title: "This file did not stream completely",
            detail: `The server saved ${formatBytes(file.size ?? 0)} but ${formatBytes(file.bytes)} arrived here.`,
            retryable: true,
          }}
          onRetry={() => void loadSaved()}
          retryLabel="Load the saved file"
        />
      )}
      {problem && <ProblemBox problem={problem} onRetry={draft !== undefined ? () => void save() : () => void loadSaved()} />}
      {savedAs && (
        <div className="notice" role="status" data-testid="saved-as">
          {savedAs.text}{" "}
          {savedAs.version !== undefined && <span data-testid="check-result">{checkNotice(savedAs.version, lastCheck, problemCount)}</span>}
        </div>
      )}
      {fileProblems.length > 0 && (
        <ul className="file-problems" aria-label={`Problems in ${p}`} data-testid="file-problems">
          {fileProblems.map((d, i) => (
            <li key={i} className={d.severity === "warning" ? "warn" : "error"}>
              {d.line > 0 ? `line ${d.line}${d.column ? `:${d.column}` : ""}: ` : ""}
              {d.code ? `${d.code} ` : ""}
              {d.message}
            </li>
          ))}
        </ul>
      )}
      {large && !full && (
        <div className="notice" role="status">
          This file is {formatBytes(content.length)} long; showing the first {formatBytes(LARGE)} so the page stays responsive.{" "}
          <button type="button" className="btn small" onClick={() => setFull(true)}>
            Show the whole file
          </button>{" "}
          <button type="button" className="btn small" onClick={download}>
            Download it
          </button>
        </div>
      )}
      {draft !== undefined ? (
        <Suspense
          fallback={
            <p className="muted pad" role="status">
              Loading the editor…
            </p>
          }
        >
          <CodeEditor
            path={p}
            value={draft}
            onChange={setDraft}
            onSave={(text) => void save(text)}
            onCancel={() => {
              if (!saving) setDraft(undefined);
            }}
            problems={fileProblems}
          />
        </Suspense>
      ) : (
      <div
        className="code-scroll"
        ref={scroller}
        tabIndex={0}
        role="region"
        aria-label={`Content of ${p}`}
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
        }}
      >
        {focusLine && (
          <div
            className="line-mark"
            aria-hidden="true"
            data-testid="line-mark"
            data-line={focusLine.line}
            ref={(el) => {
              if (el) el.style.top = `calc(${(focusLine.line - 1) * (lineHeight.current || 20)}px + 0.5rem)`;
            }}
          />
        )}
        <pre className="gutter" aria-hidden="true">
          {lines}
        </pre>
        <pre className="code">
          <code>{shown}</code>
        </pre>
      </div>
      )}
    </div>
  );
}
