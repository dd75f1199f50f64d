import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { describe, sessions, type Problem } from "../api";
import { ProblemBox } from "../components/ProblemBox";
import { PHASE_LABEL } from "../session/reducer";
import { forget, lastProvider, listRecent, remember, type RecentSession } from "../recent";
import { Link, navigate } from "../router";

const EXAMPLES = ["a recipe tracker with ingredients and ratings", "a kanban board for my team", "a landing page for a neighbourhood bakery"];

export function HomePage() {
  const [prompt, setPrompt] = useState("");
  const [creating, setCreating] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const [provider] = useState(lastProvider);
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
                  Written by <span className="badge provider" data-testid="provider-label">{provider}</span>
                  {provider.includes("no model") ? " — deterministic, no AI model involved." : ""}
                </>
              ) : (
                "Written by the server's default provider (shown once the app starts)."
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
      <RecentList />
    </div>
  );
}

type Status = { state: "loading" } | { state: "ok"; phase: string; title: string } | { state: "gone" } | { state: "unknown"; why: string };

function RecentList() {
  const [list, setList] = useState<RecentSession[]>(listRecent);
  const [status, setStatus] = useState<Record<string, Status>>({});

  useEffect(() => {
    // Ask the server about the first few; a missing list API means one call each.
    const ac = new AbortController();
    for (const s of list.slice(0, 8)) {
      setStatus((m) => ({ ...m, [s.id]: { state: "loading" } }));
      sessions
        .getSession({ sessionId: s.id }, { signal: ac.signal })
        .then((r) =>
          setStatus((m) => ({
            ...m,
            [s.id]: { state: "ok", phase: PHASE_LABEL[r.session?.phase ?? 0], title: r.session?.blueprint?.title ?? "" },
          })),
        )
        .catch((err) => {
          if (ac.signal.aborted) return;
          const p = describe(err, "check the session");
          setStatus((m) => ({ ...m, [s.id]: p.code === "not_found" ? { state: "gone" } : { state: "unknown", why: p.title } }));
        });
    }
    return () => ac.abort();
    // Only on mount: forgetting an entry must not re-query the rest.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return (
    <section className="recent" aria-labelledby="recent-h">
      <h2 id="recent-h">Recent sessions</h2>
      {list.length === 0 ? (
        <p className="muted">Sessions you start in this browser are listed here. (The server does not list sessions yet.)</p>
      ) : (
        <ul className="recent-list">
          {list.map((s) => {
            const st = status[s.id];
            return (
              <li key={s.id} className="recent-item" data-id={s.id}>
                <Link href={`/s/${s.id}`} className="recent-link">
                  <span className="recent-title">{st?.state === "ok" && st.title ? st.title : s.prompt || s.id}</span>
                  <span className="muted small">
                    {new Date(s.at).toLocaleString()} · {s.providerLabel || "provider unknown"}
                  </span>
                </Link>
                <span className="recent-status small">
                  {!st ? (
                    ""
                  ) : st.state === "loading" ? (
                    <span className="muted">checking…</span>
                  ) : st.state === "ok" ? (
                    <span className={`badge ph-${st.phase}`}>{st.phase}</span>
                  ) : st.state === "gone" ? (
                    <span className="badge bad" title="The server has no such session">
                      not on this server
                    </span>
                  ) : (
                    <span className="badge warn" title={st.why}>
                      status unknown
                    </span>
                  )}
                </span>
                <button
                  type="button"
                  className="btn small ghost"
                  aria-label={`Forget ${s.prompt || s.id}`}
                  onClick={() => {
                    forget(s.id);
                    setList(listRecent());
                  }}
                >
                  Forget
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
