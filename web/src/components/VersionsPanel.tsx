import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "react";
import { csrfToken, describe, sessions, type Problem } from "../api";
import type { FileDiff, Version } from "../gen/stich/v1/session_pb";
import { downloadUrl } from "../apps/apps";
import { formatBytes } from "../session/reducer";
import { ProblemBox } from "./ProblemBox";

interface Props {
  sessionId: string;
  /** Oldest first, from VersionCreated events. */
  versions: readonly Version[];
  /** Rollback needs an idle session (completed, stopped or failed). */
  idle: boolean;
  /** Opens with what a version changed, at one file (from a change card's link; key tells clicks apart). */
  showDiffOf?: { version: number; path?: string; key: number };
  /** readOnly: the caller does not own the app: no rollback (the server refuses it anyway). */
  readOnly?: boolean;
  /** Shows an old version's own build in the Preview tab (absent when the app has no preview). */
  onPreview?: (version: number) => void;
}

interface Diff {
  from: number;
  to: number;
  files: FileDiff[];
}

/** VersionsPanel lists the app's versions, shows what each changed (DiffVersions) and rolls back (Rollback). */
export function VersionsPanel({ sessionId, versions, idle, showDiffOf, readOnly, onPreview }: Props) {
  const [diff, setDiff] = useState<Diff>();
  const [loading, setLoading] = useState<number>();
  const [confirm, setConfirm] = useState<number>();
  const [rolling, setRolling] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const latest = versions.at(-1)?.number ?? 0;

  async function showChanges(to: number, from = to - 1) {
    if (to < 1 || from < 1 || from === to) return;
    setLoading(to);
    setProblem(undefined);
    try {
      const r = await sessions.diffVersions({ sessionId, from, to });
      setDiff({ from, to, files: r.files });
    } catch (err) {
      setProblem(describe(err, "compare the versions"));
    } finally {
      setLoading(undefined);
    }
  }

  // Compare any two: A (older by default) against B (the current one).
  const [pickA, setPickA] = useState<number>();
  const [pickB, setPickB] = useState<number>();
  const a = pickA ?? Math.max(1, latest - 1);
  const b = pickB ?? latest;

  const [focus, setFocus] = useState<string>();
  useEffect(() => {
    if (!showDiffOf) return;
    setFocus(showDiffOf.path);
    void showChanges(showDiffOf.version);
    // Once per link: showChanges is not a dependency.
  }, [showDiffOf?.key]);
  useEffect(() => {
    if (diff && focus) document.querySelector(`.diff-file[data-path="${CSS.escape(focus)}"]`)?.scrollIntoView({ block: "start" });
  }, [diff, focus]);

  async function rollback(n: number) {
    setRolling(true);
    setProblem(undefined);
    try {
      await sessions.rollback({ sessionId, version: n });
      setConfirm(undefined);
      setDiff(undefined);
    } catch (err) {
      setProblem(describe(err, `roll back to version ${n}`));
    } finally {
      setRolling(false);
    }
  }

  if (versions.length === 0) {
    return <p className="muted pad">No version yet: the first one is recorded when the generation completes.</p>;
  }
  return (
    <div className="versions">
      {problem && <ProblemBox problem={problem} />}
      <div className="row between wrap pad-x versions-head">
        <span className="muted small">
          {versions.length} version{versions.length === 1 ? "" : "s"}; each download is a zip of the files under one folder.
        </span>
        <a className="btn small primary" href={downloadUrl(sessionId, 0, csrfToken())} download data-testid="download-current">
          Download current files (ZIP)
        </a>
      </div>
      {versions.length > 1 && (
        <form
          className="row wrap pad-x compare-form"
          aria-label="Compare two versions"
          onSubmit={(e) => {
            e.preventDefault();
            setFocus(undefined);
            void showChanges(b, a);
          }}
        >
          <label className="small">
            Compare{" "}
            <select data-testid="compare-a" value={a} onChange={(e) => setPickA(Number(e.target.value))}>
              {[...versions].reverse().map((v) => (
                <option key={v.number} value={v.number}>
                  v{v.number}
                </option>
              ))}
            </select>
          </label>
          <label className="small">
            with{" "}
            <select data-testid="compare-b" value={b} onChange={(e) => setPickB(Number(e.target.value))}>
              {[...versions].reverse().map((v) => (
                <option key={v.number} value={v.number}>
                  v{v.number}
                  {v.number === latest ? " (current)" : ""}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="btn small" data-testid="compare" disabled={a === b || loading !== undefined}>
            {a === b ? "Pick two different versions" : "Compare"}
          </button>
        </form>
      )}
      <ol className="version-list" aria-label="Versions, newest first">
        {[...versions].reverse().map((v) => (
          <li key={v.number} className="version" data-version={v.number}>
            <div className="version-head">
              <strong>v{v.number}</strong>
              <span className="version-reason">{v.reason}</span>
              {v.number === latest && <span className="badge ok">current</span>}
            </div>
            <div className="muted small">
              {v.createdAt ? timestampDate(v.createdAt).toLocaleString() : ""} · {v.files} files · {formatBytes(Number(v.bytes))}
            </div>
            <div className="row wrap">
              <a className="btn small" href={downloadUrl(sessionId, v.number, csrfToken())} download aria-label={`Download v${v.number} as a zip`}>
                Download ZIP
              </a>
              {v.number > 1 && (
                <button type="button" className="btn small" disabled={loading !== undefined} onClick={() => void showChanges(v.number)}>
                  {loading === v.number ? "Loading…" : `Changes from v${v.number - 1}`}
                </button>
              )}
              {v.number !== latest && onPreview && (
                <button
                  type="button"
                  className="btn small"
                  data-testid="preview-version"
                  title={`Run v${v.number} as it was, built from its own files, without changing the current version`}
                  onClick={() => onPreview(v.number)}
                >
                  Preview v{v.number}
                </button>
              )}
              {v.number !== latest &&
                !readOnly &&
                (confirm === v.number ? (
                  <>
                    <button type="button" className="btn small primary" disabled={rolling} onClick={() => void rollback(v.number)}>
                      {rolling ? "Rolling back…" : `Yes, restore v${v.number}`}
                    </button>
                    <button type="button" className="btn small" disabled={rolling} onClick={() => setConfirm(undefined)}>
                      Cancel
                    </button>
                  </>
                ) : (
                  <button
                    type="button"
                    className="btn small"
                    data-testid="rollback"
                    disabled={!idle}
                    title={idle ? `Restore the files of v${v.number} as a new version` : "Wait until the session is idle (or stop it)"}
                    onClick={() => setConfirm(v.number)}
                  >
                    Roll back to v{v.number}
                  </button>
                ))}
            </div>
          </li>
        ))}
      </ol>
      {diff && (
        <section className="diff" aria-label={`Changes from v${diff.from} to v${diff.to}`} data-testid="diff" data-from={diff.from} data-to={diff.to}>
          <div className="row between pad-x">
            <h3>
              Changes from v{diff.from} to v{diff.to}: {diff.files.length} file{diff.files.length === 1 ? "" : "s"}
            </h3>
            <button type="button" className="btn small ghost" onClick={() => setDiff(undefined)}>
              Close
            </button>
          </div>
          {diff.files.length === 0 && <p className="muted pad">No file changed.</p>}
          {diff.files.map((f) => (
            <details key={f.path} className="diff-file" open={diff.files.length <= 6 || f.path === focus} data-path={f.path}>
              <summary>
                <span className={`badge ${f.change === "added" ? "ok" : f.change === "removed" ? "bad" : ""}`}>{f.change}</span> <code>{f.path}</code>
                {f.truncated && <span className="muted small"> (diff cut at 256 KB)</span>}
              </summary>
              <pre className="unified">
                {f.unified.split("\n").map((line, i) => (
                  <span key={i} className={line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : line.startsWith("@@") ? "hunk" : undefined}>
                    {line}
                    {"\n"}
                  </span>
                ))}
              </pre>
            </details>
          ))}
        </section>
      )}
    </div>
  );
}
