import { Phase } from "../gen/stich/v1/session_pb";
import { CHECK_STEP_LABEL, formatDuration, PHASE_LABEL, type CheckStepView, type TimelineEntry } from "../session/reducer";

const STAGES = [Phase.PLANNING, Phase.GENERATING, Phase.REVIEWING, Phase.FIXING, Phase.COMPLETED] as const;

interface Props {
  phase: Phase;
  entries: readonly TimelineEntry[];
  onOpenFile: (path: string) => void;
  now: number;
}

/** Timeline shows where the agent is (a stepper) and every phase it went through. */
export function Timeline({ phase, entries, onOpenFile, now }: Props) {
  const current = STAGES.indexOf(phase as (typeof STAGES)[number]);
  const seen = new Set(entries.map((e) => e.phase));
  return (
    <div className="timeline">
      <ol className="stepper" aria-label="Generation stages">
        {STAGES.map((s, i) => {
          const state = s === phase ? "current" : current > i ? (seen.has(s) ? "done" : "skipped") : seen.has(s) ? "visited" : "todo";
          return (
            <li key={s} className={`step ${state}`} aria-current={s === phase ? "step" : undefined}>
              <span className="dot" aria-hidden="true" />
              {PHASE_LABEL[s]}
            </li>
          );
        })}
        {(phase === Phase.STOPPED || phase === Phase.FAILED) && (
          <li className={`step current ${phase === Phase.FAILED ? "bad" : "paused"}`} aria-current="step">
            <span className="dot" aria-hidden="true" />
            {PHASE_LABEL[phase]}
          </li>
        )}
      </ol>
      {entries.length === 0 ? (
        <p className="muted small">No phase has started yet.</p>
      ) : (
        <ol className="phase-list" aria-label="Phases">
          {entries.map((e, i) => {
            const running = e.endedAt === undefined && i === entries.length - 1 && ![Phase.COMPLETED, Phase.STOPPED, Phase.FAILED].includes(e.phase);
            const dur = e.endedAt !== undefined ? e.endedAt - e.startedAt : running ? Math.max(0, now - e.startedAt) : undefined;
            return (
              <li key={e.seq} className={`phase-item ph-${PHASE_LABEL[e.phase]}${running ? " running" : ""}`} data-seq={e.seq}>
                <div className="phase-head">
                  <span className={`badge ph-${PHASE_LABEL[e.phase]}`}>{PHASE_LABEL[e.phase]}</span>
                  <span className="phase-name">{e.name || e.description}</span>
                  {dur !== undefined && (
                    <span className="muted small phase-dur" title={running ? "running" : "duration"}>
                      {formatDuration(dur)}
                      {running ? "…" : ""}
                    </span>
                  )}
                </div>
                {e.name && e.description && <p className="muted small phase-desc">{e.description}</p>}
                {e.steps && e.steps.length > 0 && (
                  <CheckSteps steps={e.steps} live={i === entries.length - 1 && phase !== Phase.STOPPED && phase !== Phase.FAILED} now={now} />
                )}
                {e.files.length > 0 && (
                  <details className="phase-files">
                    <summary>
                      {e.files.length} file{e.files.length === 1 ? "" : "s"}
                    </summary>
                    <ul>
                      {e.files.map((f) => (
                        <li key={f}>
                          <button type="button" className="link" onClick={() => onOpenFile(f)}>
                            {f}
                          </button>
                        </li>
                      ))}
                    </ul>
                  </details>
                )}
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}

/** CheckSteps lists a check's sub-steps with their times; the running one counts up. */
function CheckSteps({ steps, live, now }: { steps: readonly CheckStepView[]; live: boolean; now: number }) {
  return (
    <ol className="check-steps" aria-label="Check steps">
      {steps.map((s, i) => {
        const running = s.endedAt === undefined;
        const state = !running ? (s.outcome?.startsWith("ok") ? "ok" : s.outcome === "failed" ? "bad" : "warn") : live ? "running" : "cut";
        const ms = running ? (live ? Math.max(0, now - s.startedAt) : undefined) : s.durationMs;
        return (
          <li key={`${s.step}-${i}`} className={`check-step ${state}`} data-step={s.step} data-state={state}>
            <span className="check-step-name">{CHECK_STEP_LABEL[s.step] ?? s.step}</span>
            {ms !== undefined && (
              <span className="muted small check-step-time" title={running ? "running" : "took"}>
                {formatDuration(ms)}
                {running ? "…" : ""}
              </span>
            )}
            {!running && s.outcome && s.outcome !== "ok" && <span className="muted small check-step-outcome">{s.outcome}</span>}
            {running && !live && <span className="muted small check-step-outcome">cut short</span>}
          </li>
        );
      })}
    </ol>
  );
}
