import { useCallback, useEffect, useState } from "react";
import { admin, describe, type Problem } from "../api";
import { ProblemBox } from "../components/ProblemBox";
import type { ClusterMember, GetClusterStatusResponse } from "../gen/stich/v1/admin_pb";

const REFRESH_MS = 5000;

export function ClusterPage() {
  const [status, setStatus] = useState<GetClusterStatusResponse>();
  const [problem, setProblem] = useState<Problem>();
  const [at, setAt] = useState<Date>();
  const [auto, setAuto] = useState(true);

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      const r = await admin.getClusterStatus({}, { signal });
      setStatus(r);
      setProblem(undefined);
      setAt(new Date());
    } catch (err) {
      if (!signal?.aborted) setProblem(describe(err, "load the cluster status"));
    }
  }, []);

  useEffect(() => {
    document.title = "Cluster · stich";
    const ac = new AbortController();
    void load(ac.signal);
    if (!auto) return () => ac.abort();
    const t = setInterval(() => void load(ac.signal), REFRESH_MS);
    return () => {
      clearInterval(t);
      ac.abort();
    };
  }, [load, auto]);

  const members = status?.members ?? [];
  const regions = [...new Set(members.map((m) => m.region || "–"))].sort();
  const total = (kind: string) => members.reduce((n, m) => n + (m.grains[kind] ?? 0), 0);
  const kinds = [...new Set(members.flatMap((m) => Object.keys(m.grains)))].sort();

  return (
    <div className="page cluster">
      <div className="row between wrap">
        <h1>Cluster</h1>
        <div className="row wrap">
          <label className="check small">
            <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> refresh every {REFRESH_MS / 1000} s
          </label>
          <button type="button" className="btn" onClick={() => void load()}>
            Refresh
          </button>
        </div>
      </div>
      {problem && <ProblemBox problem={problem} onRetry={() => void load()} />}
      {!status && !problem && (
        <p className="muted" role="status">
          Loading…
        </p>
      )}
      {status && (
        <>
          <p className="muted small">
            As seen by node <strong>{status.node}</strong>
            {at ? ` at ${at.toLocaleTimeString()}` : ""}.
          </p>
          <dl className="counters big" aria-label="Summary">
            <div className="counter">
              <dt>members</dt>
              <dd data-testid="member-count">{members.length}</dd>
            </div>
            <div className="counter">
              <dt>healthy</dt>
              <dd>{members.filter((m) => m.healthy).length}</dd>
            </div>
            <div className="counter">
              <dt>failed</dt>
              <dd>{status.failed.length}</dd>
            </div>
            <div className="counter">
              <dt>regions</dt>
              <dd>{regions.join(", ") || "–"}</dd>
            </div>
            {kinds.map((k) => (
              <div className="counter" key={k}>
                <dt>{k} grains</dt>
                <dd>{total(k)}</dd>
              </div>
            ))}
          </dl>
          <h2>Members</h2>
          <MemberTable members={members} kinds={kinds} />
          <h2>Failed members</h2>
          {status.failed.length === 0 ? (
            <p className="muted">None. (A member that leaves without handing off its grains is listed here until it returns.)</p>
          ) : (
            <>
              <p className="muted small">Sessions stored on these members answer “unavailable” until they return.</p>
              <MemberTable members={status.failed} kinds={kinds} failed />
            </>
          )}
        </>
      )}
    </div>
  );
}

function MemberTable({ members, kinds, failed }: { members: ClusterMember[]; kinds: string[]; failed?: boolean }) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={failed ? "Failed members" : "Members"}>
      <table>
        <thead>
          <tr>
            <th scope="col">name</th>
            <th scope="col">health</th>
            <th scope="col">region / zone</th>
            <th scope="col">version</th>
            <th scope="col">HTTP</th>
            {kinds.map((k) => (
              <th scope="col" key={k} className="num">
                {k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr key={m.name} data-member={m.name}>
              <th scope="row">{m.name}</th>
              <td>
                {failed ? (
                  <span className="badge bad">failed</span>
                ) : m.leaving ? (
                  <span className="badge warn">leaving</span>
                ) : m.healthy ? (
                  <span className="badge ok">healthy</span>
                ) : (
                  <span className="badge bad" title={m.error}>
                    unhealthy
                  </span>
                )}
                {m.error && <div className="small muted">{m.error}</div>}
              </td>
              <td>
                {m.region || "–"}
                {m.zone ? ` / ${m.zone}` : ""}
              </td>
              <td>{m.version || "–"}</td>
              <td>{m.httpAddr ? <code>{m.httpAddr}</code> : "–"}</td>
              {kinds.map((k) => (
                <td key={k} className="num">
                  {m.grains[k] ?? 0}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
