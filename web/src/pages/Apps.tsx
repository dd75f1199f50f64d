import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { csrfToken, describe, sessions, type Problem } from "../api";
import { appendPage, ago, displayTitle, downloadUrl, emptyApps, normalizeTitle, removed, renamed, TITLE_MAX, titleProblem, type AppsState } from "../apps/apps";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ProblemBox } from "../components/ProblemBox";
import type { AppSummary } from "../gen/stich/v1/session_pb";
import { forget } from "../recent";
import { Link } from "../router";
import { PHASE_LABEL } from "../session/reducer";

const PAGE = 20;

/** AppsPage lists the apps on the server, newest first, and renames, downloads and deletes them. */
export function AppsPage() {
  const [state, setState] = useState<AppsState>(emptyApps);
  const [loading, setLoading] = useState(true);
  const [problem, setProblem] = useState<Problem>();
  const [deleting, setDeleting] = useState<AppSummary>();

  const load = useCallback(async (token: string) => {
    setLoading(true);
    setProblem(undefined);
    try {
      const r = await sessions.listSessions({ pageSize: PAGE, pageToken: token });
      setState((s) => appendPage(s, r, token === ""));
    } catch (err) {
      setProblem(describe(err, "list the apps"));
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    document.title = "Apps · stich";
    void load("");
  }, [load]);

  return (
    <div className="page narrow apps">
      <div className="row between wrap">
        <h1>Apps</h1>
        <div className="row wrap">
          <span className="muted small" data-testid="apps-total">
            {state.total} app{state.total === 1 ? "" : "s"}
          </span>
          <button type="button" className="btn" disabled={loading} onClick={() => void load("")}>
            Refresh
          </button>
          <Link href="/" className="btn primary">
            New app
          </Link>
        </div>
      </div>
      {problem && <ProblemBox problem={problem} onRetry={() => void load(state.apps.length ? state.next : "")} />}
      {!problem && !loading && state.apps.length === 0 && (
        <div className="notice" data-testid="apps-empty">
          <p>No apps yet.</p>
          <p>
            <Link href="/">Describe one</Link> and stich builds it; it is listed here from then on.
          </p>
        </div>
      )}
      {state.apps.length > 0 && (
        <ul className="app-list" aria-label="Apps, most recently updated first">
          {state.apps.map((a) => (
            <AppRow key={a.sessionId} app={a} onRenamed={(x) => setState((s) => renamed(s, x))} onDelete={() => setDeleting(a)} />
          ))}
        </ul>
      )}
      {loading && (
        <p className="muted" role="status">
          Loading…
        </p>
      )}
      {!loading && state.next && !problem && (
        <button type="button" className="btn" onClick={() => void load(state.next)}>
          Show more
        </button>
      )}
      {deleting && (
        <DeleteDialog
          app={deleting}
          onDone={(gone) => {
            if (gone) {
              setState((s) => removed(s, deleting.sessionId));
              forget(deleting.sessionId);
            }
            setDeleting(undefined);
          }}
        />
      )}
    </div>
  );
}

function AppRow({ app, onRenamed, onDelete }: { app: AppSummary; onRenamed: (a: AppSummary) => void; onDelete: () => void }) {
  const [editing, setEditing] = useState(false);
  const title = displayTitle(app);
  const phase = PHASE_LABEL[app.phase] ?? "unknown";
  const updated = app.updatedAt ? timestampDate(app.updatedAt) : undefined;
  return (
    <li className="app-item" data-id={app.sessionId}>
      {editing ? (
        <RenameForm app={app} onDone={(a) => (a && onRenamed(a), setEditing(false))} />
      ) : (
        <Link href={`/s/${app.sessionId}`} className="app-link">
          <span className="app-title">{title}</span>
          <span className="muted small">
            {updated ? <time dateTime={updated.toISOString()} title={updated.toLocaleString()}>{`updated ${ago(updated)}`}</time> : null}
            {app.version > 0 ? ` · v${app.version}` : " · no version yet"}
            {app.providerLabel ? ` · ${app.providerLabel}` : ""}
          </span>
        </Link>
      )}
      <span className={`badge ph-${phase}`}>{phase}</span>
      {!editing && (
        <div className="app-actions row wrap">
          <button type="button" className="btn small" aria-label={`Rename ${title}`} onClick={() => setEditing(true)}>
            Rename
          </button>
          {app.version > 0 ? (
            <a className="btn small" href={downloadUrl(app.sessionId, 0, csrfToken())} download aria-label={`Download ${title} as a zip`}>
              Download ZIP
            </a>
          ) : null}
          <button type="button" className="btn small danger-ghost" aria-label={`Delete ${title}`} onClick={onDelete}>
            Delete
          </button>
        </div>
      )}
    </li>
  );
}

function RenameForm({ app, onDone }: { app: AppSummary; onDone: (a?: AppSummary) => void }) {
  const [value, setValue] = useState(displayTitle(app));
  const [saving, setSaving] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const input = useRef<HTMLInputElement>(null);
  const invalid = titleProblem(value);
  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);

  async function save(e?: FormEvent) {
    e?.preventDefault();
    if (invalid || saving) return;
    if (normalizeTitle(value) === app.title) return onDone();
    setSaving(true);
    setProblem(undefined);
    try {
      const r = await sessions.renameSession({ sessionId: app.sessionId, title: value });
      onDone(r.app);
    } catch (err) {
      setProblem(describe(err, "rename the app"));
      setSaving(false);
    }
  }

  function onKey(e: KeyboardEvent<HTMLInputElement>) {
    if (e.key === "Escape") {
      e.preventDefault();
      onDone();
    }
  }

  const id = `rename-${app.sessionId}`;
  return (
    <form className="rename-form" onSubmit={save} aria-busy={saving}>
      <label htmlFor={id} className="sr-only">
        New title
      </label>
      <input
        id={id}
        ref={input}
        value={value}
        maxLength={TITLE_MAX * 2}
        disabled={saving}
        aria-invalid={invalid ? true : undefined}
        aria-describedby={invalid ? `${id}-err` : undefined}
        onChange={(e) => setValue(e.target.value)}
        onKeyDown={onKey}
      />
      <div className="row wrap">
        <button type="submit" className="btn small primary" disabled={!!invalid || saving}>
          {saving ? "Saving…" : "Save"}
        </button>
        <button type="button" className="btn small" disabled={saving} onClick={() => onDone()}>
          Cancel
        </button>
      </div>
      {invalid && (
        <p id={`${id}-err`} className="small field-error">
          {invalid}
        </p>
      )}
      {problem && <ProblemBox problem={problem} onRetry={() => void save()} />}
    </form>
  );
}

function DeleteDialog({ app, onDone }: { app: AppSummary; onDone: (gone: boolean) => void }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  async function confirm() {
    setBusy(true);
    setProblem(undefined);
    try {
      await sessions.deleteSession({ sessionId: app.sessionId });
      onDone(true);
    } catch (err) {
      const p = describe(err, "delete the app");
      // Already gone (another tab deleted it): the list should drop it too.
      if (p.code === "not_found") return onDone(true);
      setProblem(p);
      setBusy(false);
    }
  }
  return (
    <ConfirmDialog
      title={`Delete “${displayTitle(app)}”?`}
      confirmLabel={busy ? "Deleting…" : "Delete for good"}
      danger
      busy={busy}
      onConfirm={() => void confirm()}
      onCancel={() => onDone(false)}
    >
      <p>
        This stops any work in progress and deletes the app&apos;s files, {app.version > 1 ? `all ${app.version} versions` : "its versions"} and its conversation
        from the server. It cannot be undone.
      </p>
      {app.version > 0 && (
        <p className="muted small">
          Want a copy first? <a href={downloadUrl(app.sessionId, 0, csrfToken())} download>Download the files as a zip</a>.
        </p>
      )}
      {problem && <ProblemBox problem={problem} />}
    </ConfirmDialog>
  );
}
