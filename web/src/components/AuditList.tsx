import type { AuditRow } from "../account/audit";

/** AuditList shows audit rows as a table; showWho adds the account column (admin view). */
export function AuditList({ rows, showWho }: { rows: AuditRow[]; showWho?: boolean }) {
  if (rows.length === 0) return <p className="muted">No events.</p>;
  return (
    <table className="credentials audit">
      <thead>
        <tr>
          <th>When</th>
          <th>What</th>
          {showWho && <th>Account</th>}
          <th>From</th>
          <th>How</th>
          <th>Detail</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.id} data-testid="audit-event">
            <td>{r.when}</td>
            <td>{r.warn ? <span className="badge warn">{r.what}</span> : r.what}</td>
            {showWho && <td>{r.who}</td>}
            <td>{r.from}</td>
            <td>{r.how}</td>
            <td>
              {r.detail}
              {r.by && <span className="muted"> · by {r.by}</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
