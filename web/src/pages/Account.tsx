import { useCallback, useEffect, useState, type FormEvent } from "react";
import { accounts, describe, type Problem } from "../api";
import { credentialRows, type CredentialRow } from "../account/forms";
import { ProblemBox } from "../components/ProblemBox";
import type { Account } from "../gen/stich/v1/account_pb";

/** AccountPage shows the caller's profile, API keys and browser sessions. */
export function AccountPage() {
  const [account, setAccount] = useState<Account | null>(null);
  const [rows, setRows] = useState<CredentialRow[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [label, setLabel] = useState("");
  const [newToken, setNewToken] = useState("");
  const [notice, setNotice] = useState("");

  const load = useCallback(async () => {
    try {
      const [a, c] = await Promise.all([accounts.getAccount({}), accounts.listCredentials({})]);
      setAccount(a.account ?? null);
      setRows(credentialRows(c.credentials));
      setProblem(null);
    } catch (err) {
      setProblem(describe(err, "load the account"));
    }
  }, []);
  useEffect(() => {
    document.title = "Account · stich";
    load();
  }, [load]);

  async function act(what: string, f: () => Promise<unknown>) {
    setProblem(null);
    try {
      await f();
      await load();
    } catch (err) {
      setProblem(describe(err, what));
    }
  }
  async function createKey(e: FormEvent) {
    e.preventDefault();
    await act("make an API key", async () => {
      const res = await accounts.createAPIKey({ label: label.trim() || "API key" });
      setNewToken(res.token);
      setLabel("");
    });
  }

  return (
    <div className="page narrow account">
      <h1>Account</h1>
      {problem && <ProblemBox problem={problem} onRetry={load} />}
      {account && (
        <section>
          <h2>Profile</h2>
          <p data-testid="account-email">
            {account.email || "the node's owner"} {account.role === "admin" && <span className="badge">admin</span>}{" "}
            {account.email && !account.emailVerified && <span className="badge warn">not verified</span>}
          </p>
          <p className="muted">
            {account.displayName || "No name set"} · user id <code>{account.userId}</code>
          </p>
        </section>
      )}
      <section>
        <h2>API keys and browser sessions</h2>
        <table className="credentials">
          <thead>
            <tr>
              <th>Kind</th>
              <th>Label</th>
              <th>Made</th>
              <th>Ends</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-testid="credential">
                <td>{r.kind}</td>
                <td>
                  {r.label} {r.current && <span className="badge">this one</span>}
                </td>
                <td>{r.created}</td>
                <td>{r.expires}</td>
                <td>
                  <button type="button" className="btn small danger-ghost" onClick={() => act("revoke it", () => accounts.revokeAPIKey({ id: r.id }))}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <form className="account-form inline" onSubmit={createKey} aria-label="New API key">
          <label>
            New key's label
            <input type="text" value={label} maxLength={100} onChange={(e) => setLabel(e.target.value)} placeholder="laptop CLI" />
          </label>
          <button type="submit" className="btn">
            Make an API key
          </button>
        </form>
        {newToken && (
          <div className="notice" role="status">
            <p>Copy the key now: it is not shown again. Use it with <code>stich login --token</code> or as a Bearer token.</p>
            <code data-testid="new-key">{newToken}</code>
          </div>
        )}
      </section>
      <section>
        <h2>Sign out everywhere</h2>
        <p className="muted">Ends every browser session of this account, this one included. API keys keep working.</p>
        <button
          type="button"
          className="btn danger"
          onClick={() =>
            act("sign out everywhere", async () => {
              const r = await accounts.signOutEverywhere({});
              setNotice(`Signed out of ${r.ended} browser session${r.ended === 1 ? "" : "s"}.`);
            })
          }
        >
          Sign out everywhere
        </button>
        {notice && <p role="status">{notice}</p>}
      </section>
    </div>
  );
}
