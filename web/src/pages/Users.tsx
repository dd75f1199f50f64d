import { useCallback, useEffect, useState, type FormEvent } from "react";
import { accounts, describe, type Problem } from "../api";
import { auditRows, kindsOf, KIND_FILTERS, userRows, type AuditRow, type UserRow } from "../account/audit";
import { AuditList } from "../components/AuditList";
import { ProblemBox } from "../components/ProblemBox";

/** UsersPage (admins) lists the accounts, changes roles, disables accounts, and shows the cluster's audit log. */
export function UsersPage() {
  const [query, setQuery] = useState("");
  const [users, setUsers] = useState<UserRow[]>([]);
  const [total, setTotal] = useState(0);
  const [next, setNext] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [who, setWho] = useState("");
  const [kind, setKind] = useState("");
  const [events, setEvents] = useState<AuditRow[]>([]);
  const [eventsNext, setEventsNext] = useState("");

  const loadUsers = useCallback(async (q: string, token = "") => {
    try {
      const res = await accounts.listUsers({ query: q.trim(), pageToken: token, pageSize: 50 });
      const rows = userRows(res.users);
      setUsers((old) => (token ? [...old, ...rows] : rows));
      setTotal(res.total);
      setNext(res.nextPageToken);
      setProblem(null);
    } catch (err) {
      setProblem(describe(err, "list the accounts"));
    }
  }, []);
  const loadEvents = useCallback(async (user: string, kinds: string, token = "") => {
    try {
      const res = await accounts.listAuditEvents({ user: user.trim(), kinds: kindsOf(kinds), pageToken: token, pageSize: 50 });
      const rows = auditRows(res.events);
      setEvents((old) => (token ? [...old, ...rows] : rows));
      setEventsNext(res.nextPageToken);
    } catch (err) {
      setProblem(describe(err, "read the audit log"));
    }
  }, []);
  useEffect(() => {
    document.title = "Users · stich";
    loadUsers("");
    loadEvents("", "");
  }, [loadUsers, loadEvents]);

  async function act(what: string, f: () => Promise<unknown>) {
    setProblem(null);
    try {
      await f();
      await loadUsers(query);
      await loadEvents(who, kind);
    } catch (err) {
      setProblem(describe(err, what));
    }
  }
  function search(e: FormEvent) {
    e.preventDefault();
    loadUsers(query);
  }
  function filter(e: FormEvent) {
    e.preventDefault();
    loadEvents(who, kind);
  }

  return (
    <div className="page users">
      <h1>Users</h1>
      {problem && <ProblemBox problem={problem} onRetry={() => loadUsers(query)} />}
      <section>
        <form className="account-form inline" onSubmit={search} role="search" aria-label="Find accounts">
          <label>
            Find
            <input type="search" value={query} maxLength={254} onChange={(e) => setQuery(e.target.value)} placeholder="e-mail, name or id" />
          </label>
          <button type="submit" className="btn">
            Search
          </button>
        </form>
        <p className="muted">
          {total} account{total === 1 ? "" : "s"}
        </p>
        <table className="credentials">
          <thead>
            <tr>
              <th>E-mail</th>
              <th>Role</th>
              <th>Made</th>
              <th>Last sign-in</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id} data-testid="user-row">
                <td>
                  {u.email} {u.name && <span className="muted">· {u.name}</span>}
                  <br />
                  <code className="muted">{u.id}</code>
                </td>
                <td>{u.role === "admin" ? <span className="badge">admin</span> : "user"}</td>
                <td>{u.created}</td>
                <td>{u.lastSignIn}</td>
                <td>
                  {u.disabled ? <span className="badge bad">disabled</span> : <span className="badge ok">active</span>}{" "}
                  {!u.verified && u.email.includes("@") && <span className="badge warn">not verified</span>}
                </td>
                <td>
                  {u.email.includes("@") && (
                    <button
                      type="button"
                      className="btn small ghost"
                      onClick={() =>
                        act("change the role", () => accounts.setUserRole({ email: u.email, role: u.role === "admin" ? "user" : "admin" }))
                      }
                    >
                      {u.role === "admin" ? "Make user" : "Make admin"}
                    </button>
                  )}{" "}
                  <button
                    type="button"
                    className={u.disabled ? "btn small ghost" : "btn small danger-ghost"}
                    onClick={() => act(u.disabled ? "enable the account" : "disable the account", () => accounts.setUserDisabled({ userId: u.id, disabled: !u.disabled }))}
                  >
                    {u.disabled ? "Enable" : "Disable"}
                  </button>{" "}
                  <button
                    type="button"
                    className="btn small ghost"
                    onClick={() => {
                      const w = u.email.includes("@") ? u.email : u.id;
                      setWho(w);
                      loadEvents(w, kind);
                    }}
                  >
                    Activity
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {next && (
          <button type="button" className="btn ghost" onClick={() => loadUsers(query, next)}>
            More accounts
          </button>
        )}
      </section>
      <section>
        <h2>Audit log</h2>
        <form className="account-form inline" onSubmit={filter} aria-label="Filter the audit log">
          <label>
            Account
            <input type="text" value={who} maxLength={254} onChange={(e) => setWho(e.target.value)} placeholder="e-mail or user id (all when empty)" />
          </label>
          <label>
            Kind
            <select value={kind} onChange={(e) => setKind(e.target.value)}>
              {KIND_FILTERS.map((f) => (
                <option key={f.value} value={f.value}>
                  {f.label}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="btn">
            Show
          </button>
        </form>
        <AuditList rows={events} showWho />
        {eventsNext && (
          <button type="button" className="btn ghost" onClick={() => loadEvents(who, kind, eventsNext)}>
            Older events
          </button>
        )}
      </section>
    </div>
  );
}
