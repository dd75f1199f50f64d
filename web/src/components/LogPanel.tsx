import { useState } from "react";
import type { LogEntry } from "../session/reducer";

interface Props {
  logs: readonly LogEntry[];
  dropped: number;
}

/** LogPanel lists agent logs, diagnostics, fixes and errors, newest last. */
export function LogPanel({ logs, dropped }: Props) {
  const [problemsOnly, setProblemsOnly] = useState(false);
  const shown = problemsOnly ? logs.filter((l) => l.level !== "info" || l.kind === "fix") : logs;
  return (
    <div className="logs">
      <div className="row between pad-x">
        <span className="muted small">
          {logs.length} entr{logs.length === 1 ? "y" : "ies"}
          {dropped > 0 ? ` (${dropped} older ones dropped)` : ""}
        </span>
        <label className="check small">
          <input type="checkbox" checked={problemsOnly} onChange={(e) => setProblemsOnly(e.target.checked)} /> Problems and fixes only
        </label>
      </div>
      {shown.length === 0 ? (
        <p className="muted small pad">{problemsOnly ? "No problems reported." : "Nothing logged yet."}</p>
      ) : (
        <ol className="log-list" aria-label="Logs and diagnostics">
          {shown.map((l) => (
            <li key={l.seq} className={`log ${l.level} k-${l.kind}`} data-seq={l.seq}>
              <time dateTime={new Date(l.time).toISOString()} className="muted">
                {new Date(l.time).toLocaleTimeString()}
              </time>
              <span className="src">{l.source}</span>
              <span className="text">{l.text}</span>
              {l.detail && (
                <details>
                  <summary>details</summary>
                  <pre>{l.detail}</pre>
                </details>
              )}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
