import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { csrfToken, describe, isSignedOut, onAuthChange, SESSION_ID, sessions, type Problem } from "../api";
import { ChangeCardView, ChatPanel } from "../components/ChatPanel";
import { CodeViewer } from "../components/CodeViewer";
import { FileTree } from "../components/FileTree";
import { LogPanel } from "../components/LogPanel";
import { PreviewPanel, screenshotUrl, type OldVersion } from "../components/PreviewPanel";
import { ProblemBox } from "../components/ProblemBox";
import { Tabs } from "../components/Tabs";
import { Timeline } from "../components/Timeline";
import { VersionsPanel } from "../components/VersionsPanel";
import { Phase, Visibility, type Session } from "../gen/stich/v1/session_pb";
import { forget, remember } from "../recent";
import { SignInPage } from "./SignIn";
import { signInHref } from "../signin";
import { Link, navigate } from "../router";
import { useServerInfo } from "../serverinfo";
import { currentProblems, fixOffer, isActive, PHASE_LABEL, problemsByFile, runningStep, type SessionView } from "../session/reducer";
import { SessionStore, storageCache, type Snapshot } from "../session/stream";
import { authorLabel, readerFiles } from "../session/wording";

type WorkTab = "code" | "versions" | "preview" | "logs";
type Pane = "chat" | "work";

export function SessionPage({ id }: { id: string }) {
  if (!SESSION_ID.test(id)) {
    return (
      <div className="page narrow">
        <ProblemBox
          problem={{
            code: "invalid_argument",
            title: "This is not a session address",
            detail: `“${id}” is not a stich session id (they look like s-k77nd754hfq6y3nsny32.local).`,
            retryable: false,
          }}
        >
          <p>
            <Link href="/">Start a new app</Link> or pick one of your recent sessions on the home page.
          </p>
        </ProblemBox>
      </div>
    );
  }
  return <SessionScreen key={id} id={id} />;
}

/** useSessionStore follows the session's log for as long as the page shows it (one stream). */
function useSessionStore(id: string): [SessionStore | undefined, Snapshot | undefined] {
  const [store, setStore] = useState<SessionStore>();
  useEffect(() => {
    const s = new SessionStore({
      watch: (afterSeq, signal) => sessions.watch({ sessionId: id, afterSeq }, { signal }),
      cache: storageCache(typeof sessionStorage === "undefined" ? undefined : sessionStorage, `stich.log.${id}`),
    });
    setStore(s);
    void s.start();
    // Back online: reconnect now instead of waiting out the backoff.
    const online = () => s.retryNow();
    window.addEventListener("online", online);
    return () => {
      window.removeEventListener("online", online);
      s.close();
    };
  }, [id]);
  const subscribe = useCallback((fn: () => void) => store?.subscribe(fn) ?? (() => {}), [store]);
  const snap = useSyncExternalStore(subscribe, () => store?.getSnapshot());
  return [store, snap];
}

/** useSnapshot loads GetSession (counters, node) again whenever key changes, at most every 400 ms. */
function useSnapshot(id: string, key: string): { session?: Session; problem?: Problem } {
  const [state, setState] = useState<{ session?: Session; problem?: Problem }>({});
  const first = useRef(true);
  useEffect(() => {
    const ac = new AbortController();
    const delay = first.current ? 0 : 400;
    first.current = false;
    const t = setTimeout(async () => {
      try {
        const r = await sessions.getSession({ sessionId: id }, { signal: ac.signal });
        setState({ session: r.session });
      } catch (err) {
        if (!ac.signal.aborted) setState((s) => ({ ...s, problem: describe(err, "load the session") }));
      }
    }, delay);
    return () => {
      clearTimeout(t);
      ac.abort();
    };
  }, [id, key]);
  return state;
}

/** useSignedOutState follows whether the server says this browser is not signed in. */
function useSignedOutState(): boolean {
  const [out, setOut] = useState(isSignedOut);
  useEffect(() => onAuthChange(setOut), []);
  return out;
}

function useNow(active: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [active, ms]);
  return now;
}

function SessionScreen({ id }: { id: string }) {
  const [store, snap] = useSessionStore(id);
  const view = snap?.view;
  const status = snap?.status;
  const phase = view?.phase ?? Phase.UNSPECIFIED;
  const info = useSnapshot(id, `${view?.timeline.length ?? 0}:${view?.lastCompletion?.seq ?? 0}:${view?.chat.length ?? 0}:${view?.logs.length ?? 0}`);
  const [tab, setTab] = useState<WorkTab>("code");
  const server = useServerInfo();
  const [pane, setPane] = useState<Pane>("work");
  const [picked, setPicked] = useState<string>();
  const [focusLine, setFocusLine] = useState<{ line: number; key: number }>();
  const [diffOf, setDiffOf] = useState<{ version: number; path?: string; key: number }>();
  // The old version shown in the Preview tab instead of the current build
  // (this tab only: other watchers keep seeing the current one).
  const [previewing, setPreviewing] = useState<number>();
  const [rollingBack, setRollingBack] = useState<{ rolling?: boolean; error?: string }>({});
  const [busy, setBusy] = useState<"stop" | "resume">();
  const [actionProblem, setActionProblem] = useState<Problem>();
  const signedOut = useSignedOutState();
  const stepRunning = runningStep(view) !== undefined;
  const ticking = isActive(phase) || status?.state === "waiting" || stepRunning;
  const now = useNow(ticking, stepRunning ? 200 : 1000);

  useEffect(() => {
    if (view?.prompt) remember({ id, prompt: view.prompt, providerLabel: view.providerLabel });
  }, [id, view?.prompt, view?.providerLabel]);

  // Keep the newest phase in view unless the reader scrolled up.
  const timelineBox = useRef<HTMLDetailsElement>(null);
  const timelineLen = view?.timeline.length ?? 0;
  useEffect(() => {
    const el = timelineBox.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 120) el.scrollTop = el.scrollHeight;
  }, [timelineLen]);

  // The user's title (RenameSession) wins over the blueprint's.
  const title = info.session?.title || view?.blueprint?.title || info.session?.blueprint?.title || view?.prompt || id;
  useEffect(() => {
    document.title = `${title} · stich`;
  }, [title]);

  // Until the person picks a file, show the one being written.
  const writing = useMemo(() => latestFile(view), [view?.files]);
  const selected = picked ?? writing;

  const notFound =
    (status?.state === "failed" && status.problem?.code === "not_found") || (info.problem?.code === "not_found" && (view?.lastSeq ?? 0) === 0);
  if (notFound) return <SessionNotFound id={id} detail={status?.problem?.detail ?? info.problem?.detail ?? ""} />;
  // Signed out, and the app is not one anyone may read (private, or no such app: the server answers both alike).
  const mustSignIn =
    signedOut &&
    ((status?.state === "failed" && status.problem?.code === "unauthenticated") || (info.problem?.code === "unauthenticated" && (view?.lastSeq ?? 0) === 0));
  if (mustSignIn) return <SignInPage />;

  async function act(kind: "stop" | "resume") {
    setBusy(kind);
    setActionProblem(undefined);
    try {
      if (kind === "stop") await sessions.stop({ sessionId: id });
      else await sessions.resume({ sessionId: id });
    } catch (err) {
      setActionProblem(describe(err, kind === "stop" ? "stop the session" : "resume the session"));
    } finally {
      setBusy(undefined);
    }
  }

  const loading = !view || (view.lastSeq === 0 && status?.state !== "failed");
  const problems = view?.logs.filter((l) => l.level !== "info").length ?? 0;
  const current = view ? currentProblems(view) : [];
  const perFile = view ? problemsByFile(view) : {};
  const fileProblems = selected ? current.filter((d) => d.file.replace(/^\/+/, "") === selected) : [];
  const c = info.session?.counters;
  // Owner-only controls show once the server says the caller owns the app; someone else's unlisted or public app
  // (or a visitor who is not signed in) reads only, with none of them (the server refuses changes anyway).
  const owned = info.session?.owned === true;
  const versionsList = view?.versions;
  const idleNow = !loading && !isActive(phase);
  function oldVersionOf(n: number | undefined): OldVersion | undefined {
    const v = n ? versionsList?.find((x) => x.number === n) : undefined;
    if (!v || !n) return undefined;
    const rollback = async () => {
      setRollingBack({ rolling: true });
      try {
        await sessions.rollback({ sessionId: id, version: n });
        setRollingBack({});
        setPreviewing(undefined);
      } catch (err) {
        const p = describe(err, `roll back to version ${n}`);
        setRollingBack({ error: `${p.title}: ${p.detail}` });
      }
    };
    return {
      number: n,
      when: v.createdAt ? timestampDate(v.createdAt).toLocaleString() : "",
      onBack: () => setPreviewing(undefined),
      onRollback: owned && idleNow ? () => void rollback() : undefined,
      rolling: rollingBack.rolling,
      error: rollingBack.error,
    };
  }

  const readOnly = info.session !== undefined && !owned;
  const ownerName = info.session?.ownerName;
  // A reader is never told "you" about the owner's edits.
  const files = readOnly && view ? readerFiles(view.files, ownerName) : view?.files;
  const openFile = (p: string, line?: number) => {
    setPicked(p);
    setFocusLine(line ? (f) => ({ line, key: (f?.key ?? 0) + 1 }) : undefined);
    setTab("code");
    setPane("work");
  };

  return (
    <div className="session" data-phase={PHASE_LABEL[phase]}>
      <header className="session-head">
        <div className="session-title">
          <h1 title={view?.prompt}>{title}</h1>
          <div className="row wrap small">
            {view?.providerLabel && (
              <span className="badge provider" data-testid="provider-label">
                {view.providerLabel}
              </span>
            )}
            <span className={`badge ph-${PHASE_LABEL[phase]}`} data-testid="phase" aria-live="polite">
              {loading ? "loading" : PHASE_LABEL[phase]}
            </span>
            {status && store && <ConnectionPill status={status} now={now} onRetry={() => store.retryNow()} />}
            {view && (
              <button
                type="button"
                className={`badge ${current.length > 0 ? "bad" : "ok"} link`}
                data-testid="problem-count"
                data-count={current.length}
                onClick={() => {
                  setTab("logs");
                  setPane("work");
                }}
              >
                {current.length === 0 ? "no problems" : `${current.length} problem${current.length === 1 ? "" : "s"}`}
              </button>
            )}
          </div>
          {info.session?.forkedFrom && (
            <p className="small muted" data-testid="forked-from">
              Forked from <Link href={`/s/${info.session.forkedFrom.sessionId}`}>{info.session.forkedFrom.title || info.session.forkedFrom.sessionId}</Link>, version{" "}
              {info.session.forkedFrom.version}
            </p>
          )}
        </div>
        <div className="session-side">
          {owned && (
            <div className="row wrap actions">
              <button type="button" className="btn" disabled={!isActive(phase) || busy !== undefined} onClick={() => void act("stop")}>
                {busy === "stop" ? "Stopping…" : "Stop"}
              </button>
              <button
                type="button"
                className="btn"
                disabled={!(phase === Phase.STOPPED || phase === Phase.FAILED) || busy !== undefined}
                onClick={() => void act("resume")}
              >
                {busy === "resume" ? "Resuming…" : "Resume"}
              </button>
            </div>
          )}
          {info.session && <SharingControls id={id} session={info.session} signedOut={signedOut} />}
        </div>
        <details className="dev-details" data-testid="dev-details">
          <summary>Details{c && c.modelRequests > 0n ? ` · ${c.modelRequests} model calls · $${c.costUsd.toFixed(c.costUsd < 1 ? 4 : 2)}` : ""}</summary>
        <dl className="counters" aria-label="Counters">
          <Counter label="phases done" value={c?.phasesCompleted} />
          <Counter label="phase budget left" value={c?.phaseBudget} />
          <Counter label="files written" value={c?.filesWritten} />
          <Counter label="messages" value={c?.messages} />
          <Counter label="pending" value={c?.refinementsPending} />
          <Counter label="events" value={view && view.lastSeq > 0 ? String(view.lastSeq) : c ? String(c.events) : undefined} />
          <Counter label="resumes" value={c?.resumes} />
          {c && c.modelRequests > 0n && (
            <>
              <Counter label="model calls" value={String(c.modelRequests)} />
              <Counter label="tokens" value={`${c.promptTokens} in / ${c.completionTokens} out${c.usageEstimated ? " (est.)" : ""}`} />
              <Counter label="cost" value={`$${c.costUsd.toFixed(c.costUsd < 1 ? 4 : 2)}`} />
            </>
          )}
          {info.session?.node && <Counter label="node" value={info.session.node} />}
        </dl>
        </details>
      </header>

      {status?.state === "failed" && status.problem && (
        <ProblemBox problem={{ ...status.problem, retryable: true }} onRetry={() => store?.retryNow()} retryLabel="Reconnect" />
      )}
      {status?.state === "waiting" && status.problem && (view?.lastSeq ?? 0) === 0 && (
        <ProblemBox problem={status.problem} onRetry={() => store?.retryNow()} retryLabel="Retry now">
          <p className="small">Retrying by itself with growing pauses; nothing is lost while it does.</p>
        </ProblemBox>
      )}
      {actionProblem && <ProblemBox problem={actionProblem} />}
      {view?.error && phase === Phase.FAILED && (
        <ProblemBox
          problem={{ code: view.error.code, title: "Generation failed", detail: view.error.message, retryable: view.error.retryable }}
          onRetry={() => void act("resume")}
          retryLabel="Resume to retry"
        />
      )}

      {view && owned && (
        <FixBar
          sessionId={id}
          view={view}
          idle={!loading && !isActive(phase)}
          buildsOff={Boolean(server.info?.buildsDisabled)}
          onShowDiff={(version, path) => {
            setDiffOf((d) => ({ version, path, key: (d?.key ?? 0) + 1 }));
            setTab("versions");
            setPane("work");
          }}
        />
      )}

      <div className="pane-switch" role="group" aria-label="Show">
        <button type="button" className={pane === "chat" ? "btn small active" : "btn small"} aria-pressed={pane === "chat"} onClick={() => setPane("chat")}>
          Chat &amp; phases
        </button>
        <button type="button" className={pane === "work" ? "btn small active" : "btn small"} aria-pressed={pane === "work"} onClick={() => setPane("work")}>
          Files, preview &amp; logs
        </button>
      </div>

      <div className="session-grid" data-pane={pane}>
        <section className="pane pane-side" aria-label="Conversation and phases">
          <details className="timeline-box" open ref={timelineBox}>
            <summary>
              <h2>Phases</h2>
            </summary>
            <Timeline phase={phase} entries={view?.timeline ?? []} onOpenFile={openFile} now={now} />
          </details>
          <div className="chat-box">
            <h2>Chat</h2>
            <ChatPanel
              sessionId={id}
              messages={view?.chat ?? []}
              prompt={view?.prompt ?? ""}
              providerLabel={view?.providerLabel ?? ""}
              ready={!loading && owned}
              readOnly={readOnly}
              author={authorLabel(!readOnly, ownerName)}
              onShowDiff={(version, path) => {
                setDiffOf((d) => ({ version, path, key: (d?.key ?? 0) + 1 }));
                setTab("versions");
                setPane("work");
              }}
            />
          </div>
        </section>
        <section className="pane pane-main" aria-label="Workspace">
          <Tabs<WorkTab>
            label="Workspace"
            idPrefix="work"
            active={tab}
            onChange={setTab}
            tabs={[
              { key: "code", label: `Code (${view?.fileOrder.length ?? 0})` },
              { key: "versions", label: `Versions (${view?.versions.length ?? 0})` },
              { key: "preview", label: view?.previewUrl ? "Preview ●" : "Preview" },
              { key: "logs", label: problems > 0 ? `Logs (${problems} ⚠)` : "Logs" },
            ]}
          />
          <div role="tabpanel" id={`work-panel-${tab}`} aria-labelledby={`work-tab-${tab}`} className="tab-panel">
            {loading && tab === "code" && status?.state !== "waiting" ? (
              <p className="muted pad" role="status">
                Loading the session…
              </p>
            ) : tab === "code" ? (
              <div className="code-split">
                <FileTree
                  files={files ?? {}}
                  order={view?.fileOrder ?? []}
                  selected={selected}
                  onSelect={(p) => {
                    setPicked(p);
                    setFocusLine(undefined);
                  }} active={isActive(phase)} problems={perFile} />
                <CodeViewer
                  sessionId={id}
                  file={selected ? files?.[selected] : undefined}
                  path={selected}
                  active={isActive(phase)}
                  readOnly={!owned}
                  lastCheck={view?.lastCheck}
                  problemCount={current.length}
                  fileProblems={fileProblems}
                  focusLine={selected === picked ? focusLine : undefined}
                />
              </div>
            ) : tab === "versions" ? (
              <VersionsPanel
                sessionId={id}
                versions={view?.versions ?? []}
                idle={!loading && !isActive(phase)}
                showDiffOf={diffOf}
                readOnly={!owned}
                onPreview={
                  view?.previewUrl
                    ? (n) => {
                        setPreviewing(n);
                        setRollingBack({});
                        setTab("preview");
                      }
                    : undefined
                }
              />
            ) : tab === "preview" ? (
              <PreviewPanel
                sessionId={id}
                url={view?.previewUrl}
                build={view?.previewSeq}
                working={isActive(phase)}
                buildsOff={server.info?.buildsDisabled}
                screenshot={view?.previewUrl && view.screenshotSeq ? screenshotUrl(id, view.screenshotSeq, csrfToken()) : undefined}
                runtime={view?.problems.runtime}
                onOpenFile={openFile}
                files={view?.fileOrder}
                oldVersion={oldVersionOf(previewing)}
              />
            ) : (
              <LogPanel logs={view?.logs ?? []} dropped={view?.logsDropped ?? 0} />
            )}
          </div>
        </section>
      </div>
      {view && (
        <p className="stream-facts muted small" data-testid="stream-facts" data-last-seq={view.lastSeq} data-applied={view.applied} data-duplicates={view.duplicates} data-gaps={view.gaps} data-connects={status?.connects ?? 0}>
          {view.applied} events · {status?.connects ?? 0} connection{status?.connects === 1 ? "" : "s"}
          {view.duplicates > 0 ? ` · ${view.duplicates} replayed events skipped` : ""}
          {view.gaps > 0 ? ` · ${view.gaps} gaps refilled` : ""}
        </p>
      )}
    </div>
  );
}

/**
 * FixBar offers the fixer when the app has problems the fixer did not get to
 * run on (it never runs on the user's own edits unless asked), and shows
 * what the requested fix did: its change card, or that it could not fix them.
 */
function FixBar({ sessionId, view, idle, buildsOff, onShowDiff }: { sessionId: string; view: SessionView; idle: boolean; buildsOff: boolean; onShowDiff: (version: number, path?: string) => void }) {
  const [asked, setAsked] = useState<{ seq: number; version: number }>();
  const [sending, setSending] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const offer = fixOffer(view, idle && !buildsOff, asked);
  if (!offer.show && !offer.fixing && !offer.result && !problem) return null;
  async function fix() {
    setSending(true);
    setProblem(undefined);
    try {
      const after = { seq: view.lastSeq, version: view.versions.at(-1)?.number ?? 0 };
      await sessions.fixProblems({ sessionId });
      setAsked(after);
    } catch (err) {
      setProblem(describe(err, "run the fixer"));
    } finally {
      setSending(false);
    }
  }
  const n = offer.count;
  const problems = `${n} problem${n === 1 ? "" : "s"}`;
  return (
    <div className="fix-bar" role="status" data-testid="fix-bar" data-state={offer.fixing ? "fixing" : offer.result ? "done" : "offer"}>
      {offer.fixing ? (
        <span>Fixing… the fixer is checking the current files (the Logs tab shows its steps).</span>
      ) : offer.result ? (
        <>
          <span data-testid="fix-result">
            {offer.result.version === 0 && offer.result.notDone[0]?.startsWith("the check did not run")
              ? `The fixer could not run: ${offer.result.notDone[0].replace(/^the check did not run to the end: /, "")}.`
              : offer.result.version > 0
              ? `Fixed: version ${offer.result.version} changes ${offer.result.files.length} file${offer.result.files.length === 1 ? "" : "s"}${offer.result.notDone.length > 0 ? `; ${offer.result.notDone.length} problem${offer.result.notDone.length === 1 ? "" : "s"} left` : ""}.`
              : offer.result.notDone.length > 0
                ? `Could not fix ${offer.result.notDone.length} problem${offer.result.notDone.length === 1 ? "" : "s"}: nothing changed, so no version was made.`
                : "The fixer found nothing to change."}
          </span>
          <button type="button" className="btn small ghost" onClick={() => setAsked(undefined)}>
            Dismiss
          </button>
          <ChangeCardView card={offer.result} onShowDiff={onShowDiff} />
        </>
      ) : offer.show ? (
        <>
          <span data-testid="fix-offer">
            {offer.userEdit
              ? `Your edit has ${problems}. The fixer did not run on it (it never changes your edits unless you ask).`
              : `The app has ${problems} the fixer has not tried since the last change.`}
          </span>
          <button type="button" className="btn small primary" data-testid="fix-problems" disabled={sending} onClick={() => void fix()}>
            {sending ? "Asking…" : "Fix problems"}
          </button>
        </>
      ) : null}
      {problem && <ProblemBox problem={problem} onRetry={() => void fix()} />}
    </div>
  );
}

function latestFile(view?: SessionView): string | undefined {
  if (!view) return undefined;
  let best: string | undefined;
  let seq = -1;
  for (const p of view.fileOrder) {
    const f = view.files[p];
    if (f && f.seq > seq) {
      seq = f.seq;
      best = p;
    }
  }
  return best;
}

function Counter({ label, value }: { label: string; value?: string | number }) {
  return (
    <div className="counter" data-testid={`counter-${label.replace(/ /g, "-")}`}>
      <dt>{label}</dt>
      <dd>{value === undefined ? "–" : String(value)}</dd>
    </div>
  );
}

function ConnectionPill({ status, now, onRetry }: { status: Snapshot["status"]; now: number; onRetry: () => void }) {
  switch (status.state) {
    case "live":
      return (
        <span className="badge ok" data-testid="connection" data-state="live">
          live
        </span>
      );
    case "connecting":
      return (
        <span className="badge" data-testid="connection" data-state="connecting">
          connecting…
        </span>
      );
    case "waiting": {
      const s = Math.max(0, Math.ceil(((status.retryAt ?? now) - now) / 1000));
      return (
        <span className="badge warn" data-testid="connection" data-state="waiting" role="status" title={status.problem?.detail}>
          {status.problem?.code === "network" ? "server unreachable" : "connection lost"} · retrying{s > 0 ? ` in ${s}s` : "…"}{" "}
          <button type="button" className="link" onClick={onRetry}>
            retry now
          </button>
        </span>
      );
    }
    case "failed":
      return (
        <span className="badge bad" data-testid="connection" data-state="failed">
          disconnected
        </span>
      );
    case "closed":
      return null;
  }
}

function SessionNotFound({ id, detail }: { id: string; detail: string }) {
  const [gone, setGone] = useState(false);
  return (
    <div className="page narrow" data-testid="not-found">
      <div className="problem" role="alert">
        <h1>Session not found</h1>
        <p>
          There is no session <code>{id}</code> that you can open on this server{detail ? ` (“${detail}”)` : ""}. It may be another user's private app,
          belong to another stich server, or have been deleted.
        </p>
        <div className="row wrap">
          <Link className="btn primary" href="/">
            Start a new app
          </Link>
          <button
            type="button"
            className="btn"
            disabled={gone}
            onClick={() => {
              forget(id);
              setGone(true);
            }}
          >
            {gone ? "Removed from recent sessions" : "Remove from recent sessions"}
          </button>
        </div>
      </div>
    </div>
  );
}

const VISIBILITY_LABEL: Record<number, string> = {
  [Visibility.UNSPECIFIED]: "private",
  [Visibility.PRIVATE]: "private",
  [Visibility.UNLISTED]: "unlisted",
  [Visibility.PUBLIC]: "public",
};

/** SharingControls: the owner picks who may read the app; anyone else who can read it may fork it. */
function SharingControls({ id, session, signedOut }: { id: string; session: Session; signedOut: boolean }) {
  const [vis, setVis] = useState<Visibility>(session.visibility === Visibility.UNSPECIFIED ? Visibility.PRIVATE : session.visibility);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  async function change(v: Visibility) {
    setBusy(true);
    setProblem(undefined);
    try {
      const r = await sessions.setVisibility({ sessionId: id, visibility: v });
      setVis(r.visibility);
    } catch (err) {
      setProblem(describe(err, "change who can see the app"));
    } finally {
      setBusy(false);
    }
  }
  async function fork() {
    setBusy(true);
    setProblem(undefined);
    try {
      const r = await sessions.forkSession({ sessionId: id });
      navigate(`/s/${r.sessionId}`);
    } catch (err) {
      setProblem(describe(err, "fork the app"));
      setBusy(false);
    }
  }
  return (
    <div className="row wrap sharing" data-testid="sharing">
      {session.owned ? (
        <label className="row small">
          Visibility{" "}
          <select
            data-testid="visibility"
            value={vis}
            disabled={busy}
            onChange={(e) => void change(Number(e.target.value) as Visibility)}
            title="Private: only you. Unlisted: any signed-in user with the link can read it. Public: also listed in the gallery."
          >
            <option value={Visibility.PRIVATE}>private</option>
            <option value={Visibility.UNLISTED}>unlisted</option>
            <option value={Visibility.PUBLIC}>public</option>
          </select>
          <span className="muted" data-testid="visibility-state" data-visibility={VISIBILITY_LABEL[vis]}>
            {busy ? "saving…" : ""}
          </span>
        </label>
      ) : (
        <>
          <span className="badge" data-testid="read-only">
            read-only · {VISIBILITY_LABEL[session.visibility]} app {session.ownerName ? `of ${session.ownerName}` : signedOut ? "" : "of another user"}
          </span>
          {signedOut ? (
            <Link className="btn primary" href={signInHref(window.location.pathname + window.location.search)} data-testid="sign-in-to-fork">
              Sign in to fork
            </Link>
          ) : (
            <button type="button" className="btn primary" data-testid="fork" disabled={busy || session.version === 0} onClick={() => void fork()}>
              {busy ? "Forking…" : "Fork"}
            </button>
          )}
        </>
      )}
      {problem && <ProblemBox problem={problem} />}
    </div>
  );
}
