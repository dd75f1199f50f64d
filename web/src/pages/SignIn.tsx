import { useEffect, useState, type FormEvent } from "react";
import { accounts, describe, markSignedIn, type Problem } from "../api";
import { ProblemBox } from "../components/ProblemBox";
import { Link, navigate } from "../router";

/** SignInPage is shown instead of any page while the server says this browser is not signed in. */
export function SignInPage() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    document.title = "Sign in · stich";
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await accounts.signIn({ email: email.trim(), password });
      markSignedIn();
      if (window.location.pathname === "/signin") navigate("/", { replace: true });
    } catch (err) {
      setProblem(describe(err, "sign in"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="page narrow" data-testid="sign-in">
      <h1>Sign in to stich</h1>
      <form className="account-form" onSubmit={submit} aria-label="Sign in">
        <label>
          E-mail
          <input type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <button type="submit" className="btn primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {problem && <ProblemBox problem={problem} />}
      <p>
        No account? <Link href="/signup">Sign up</Link>. Forgot the password? <Link href="/reset">Reset it</Link>.
      </p>
      <p className="muted">
        On a single-user node (<code>stich serve</code> without <code>--auth multi</code>) open the sign-in link it printed
        when it started; lost it? <code>stich signin-link</code> on the node's machine prints a new one.
      </p>
    </div>
  );
}
