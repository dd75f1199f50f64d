import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useCallback, useEffect, useState } from "react";
import { describe, sessions, type Problem } from "../api";
import { ago, displayTitle } from "../apps/apps";
import { ProblemBox } from "../components/ProblemBox";
import type { AppSummary } from "../gen/stich/v1/session_pb";
import { Link } from "../router";
import { SignInPage } from "./SignIn";

const PAGE = 24;

/** GalleryPage lists the public apps of every user, most recently updated first; each opens read-only, with a Fork button. */
export function GalleryPage() {
  const [apps, setApps] = useState<AppSummary[]>([]);
  const [next, setNext] = useState("");
  const [loading, setLoading] = useState(true);
  const [problem, setProblem] = useState<Problem>();

  const load = useCallback(async (token: string) => {
    setLoading(true);
    setProblem(undefined);
    try {
      const r = await sessions.listGallery({ pageSize: PAGE, pageToken: token });
      setApps((a) => {
        const seen = new Set(token === "" ? [] : a.map((x) => x.sessionId));
        return [...(token === "" ? [] : a), ...r.apps.filter((x) => !seen.has(x.sessionId))];
      });
      setNext(r.nextPageToken);
    } catch (err) {
      setProblem(describe(err, "list the gallery"));
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    document.title = "Gallery · stich";
    void load("");
  }, [load]);

  // Credentials the server refuses (an ended browser session): sign in again.
  if (problem?.code === "unauthenticated") return <SignInPage />;
  return (
    <div className="page narrow apps" data-testid="gallery">
      <div className="row between wrap">
        <h1>Gallery</h1>
        <button type="button" className="btn" disabled={loading} onClick={() => void load("")}>
          Refresh
        </button>
      </div>
      <p className="muted small">Apps their owners made public. Open one to read it; fork it to make your own copy.</p>
      {problem && <ProblemBox problem={problem} onRetry={() => void load(apps.length ? next : "")} />}
      {!problem && !loading && apps.length === 0 && (
        <div className="notice" data-testid="gallery-empty">
          <p>No public apps yet. Make one of yours public from its page.</p>
        </div>
      )}
      {apps.length > 0 && (
        <ul className="app-list" aria-label="Public apps, most recently updated first">
          {apps.map((a) => {
            const updated = a.updatedAt ? timestampDate(a.updatedAt) : undefined;
            return (
              <li key={a.sessionId} className="app-item" data-id={a.sessionId}>
                <Link href={`/s/${a.sessionId}`} className="app-link">
                  <span className="app-title">{displayTitle(a)}</span>
                  <span className="muted small">
                    {a.ownerName ? (
                      <span data-testid="gallery-owner">
                        {`by ${a.ownerName}`}
                        {" · "}
                      </span>
                    ) : null}
                    {updated ? <time dateTime={updated.toISOString()}>{`updated ${ago(updated)}`}</time> : null}
                    {a.version > 0 ? ` · v${a.version}` : " · no version yet"}
                    {a.forkedFrom ? " · a fork" : ""}
                  </span>
                </Link>
              </li>
            );
          })}
        </ul>
      )}
      {loading && (
        <p className="muted" role="status">
          Loading…
        </p>
      )}
      {!loading && next && !problem && (
        <button type="button" className="btn" onClick={() => void load(next)}>
          Show more
        </button>
      )}
    </div>
  );
}
