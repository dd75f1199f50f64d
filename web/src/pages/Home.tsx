import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { describe, sessions, type Problem } from "../api";
import { ago, displayTitle } from "../apps/apps";
import { ProblemBox } from "../components/ProblemBox";
import type { AppSummary } from "../gen/stich/v1/session_pb";
import { PHASE_LABEL } from "../session/reducer";
import { lastProvider, remember } from "../recent";
import { Link, navigate } from "../router";
import { providerNote, useServerInfo } from "../serverinfo";

const RECENT = 5;

const EXAMPLES = ["a recipe tracker with ingredients and ratings", "a kanban board for my team", "a landing page for a neighbourhood bakery"];

export function HomePage() {
  const [prompt, setPrompt] = useState("");
  const [creating, setCreating] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const server = useServerInfo();
  // Until the server answers, the label it reported when this browser last
  // created an app.
  const provider = server.info?.defaultProviderLabel || lastProvider();
  const input = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    document.title = "stich";
    input.current?.focus();
  }, []);

  async function create(e?: FormEvent) {
    e?.preventDefault();
    const p = prompt.trim();
    if (!p || creating) return;
    setCreating(true);
    setProblem(undefined);
    try {
      const r = await sessions.createSession({ prompt: p });
      remember({ id: r.sessionId, prompt: p, providerLabel: r.providerLabel });
      navigate(`/s/${r.sessionId}`);
    } catch (err) {
      setProblem(describe(err, "create the app"));
      setCreating(false);
    }
  }

  function onKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void create();
    }
  }

  return (
    <div className="page home">
      <section className="hero">
        <h1>What should stich build?</h1>
        <p className="muted">Describe an app in plain words. stich plans it, writes its files phase by phase, and lets you refine it by chat.</p>
        <form className="prompt-form" onSubmit={create} aria-busy={creating}>
          <label htmlFor="prompt" className="sr-only">
            Describe your app
          </label>
          <textarea
            id="prompt"
            ref={input}
            rows={3}
            maxLength={16384}
            placeholder="a recipe tracker with ingredients and ratings"
            value={prompt}
            disabled={creating}
            onChange={(e) => setPrompt(e.target.value)}
            onKeyDown={onKey}
          />
          <div className="row between wrap">
            <span className="muted small">
              {provider ? (
                <>
                  Written by <span className="badge provider" data-testid="provider-label">{provider}</span> — {providerNote(provider)}.{" "}
                  <Link href="/settings">Models</Link>
                </>
              ) : server.problem ? (
                <>
                  Could not ask the server which provider writes apps.{" "}
                  <button type="button" className="linkish" onClick={server.retry}>
                    Retry
                  </button>
                </>
              ) : (
                "Asking the server which provider writes apps…"
              )}
            </span>
            <button type="submit" className="btn primary" disabled={creating || !prompt.trim()}>
              {creating ? "Starting…" : "Build it"}
            </button>
          </div>
        </form>
        {problem && <ProblemBox problem={problem} onRetry={() => void create()} />}
        <div className="examples" role="group" aria-label="Examples">
          <span className="muted small">Try:</span>
          {EXAMPLES.map((x) => (
            <button key={x} type="button" className="chip" onClick={() => setPrompt(x)}>
              {x}
            </button>
          ))}
        </div>
      </section>
      <RecentApps />
    </div>
  );
}

/** RecentApps shows the server's most recently updated apps (ListSessions). */
function RecentApps() {
  const [apps, setApps] = useState<AppSummary[]>();
  const [total, setTotal] = useState(0);
  const [problem, setProblem] = useState<Problem>();

  const load = useCallback(async (signal?: AbortSignal) => {
    setProblem(undefined);
    try {
      const r = await sessions.listSessions({ pageSize: RECENT }, { signal });
      setApps(r.apps);
      setTotal(r.total);
    } catch (err) {
      if (!signal?.aborted) setProblem(describe(err, "list your recent apps"));
    }
  }, []);

  useEffect(() => {
    const ac = new AbortController();
    void load(ac.signal);
    return () => ac.abort();
  }, [load]);

  return (
    <section className="recent" aria-labelledby="recent-h">
      <div className="row between">
        <h2 id="recent-h">Recent apps</h2>
        {total > 0 && <Link href="/apps">{total > RECENT ? `All ${total} apps →` : "Manage apps →"}</Link>}
      </div>
      {problem ? (
        <ProblemBox problem={problem} onRetry={() => void load()} />
      ) : !apps ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : apps.length === 0 ? (
        <p className="muted">Apps you build are listed here.</p>
      ) : (
        <ul className="recent-list">
          {apps.map((a) => {
            const phase = PHASE_LABEL[a.phase] ?? "unknown";
            const updated = a.updatedAt ? timestampDate(a.updatedAt) : undefined;
            return (
              <li key={a.sessionId} className="recent-item" data-id={a.sessionId}>
                <Link href={`/s/${a.sessionId}`} className="recent-link">
                  <span className="recent-title">{displayTitle(a)}</span>
                  <span className="muted small">
                    {updated ? `updated ${ago(updated)}` : ""}
                    {a.providerLabel ? ` · ${a.providerLabel}` : ""}
                  </span>
                </Link>
                <span className="recent-status small">
                  <span className={`badge ph-${phase}`}>{phase}</span>
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
