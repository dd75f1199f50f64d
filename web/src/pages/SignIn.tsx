import { useEffect, useState, type FormEvent } from "react";
import { accounts, describe, markSignedIn, type Problem } from "../api";
import { ProblemBox } from "../components/ProblemBox";
import { Link, navigate } from "../router";
import { fetchSignInOptions, returnPathOf, withReturn, type SignInOptions } from "../signin";

/**
 * SignInPage is shown instead of any page while the server says this browser is not signed in. At
 * /signin?next=PATH (a "Sign in to fork" link) it returns to PATH once signed in, through the password
 * or a provider; PATH is kept to this origin (safeReturnPath, and the server checks it again).
 */
export function SignInPage() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [opts, setOpts] = useState<SignInOptions | null>(null);
  useEffect(() => {
    document.title = "Sign in · stich";
    const ctl = new AbortController();
    fetchSignInOptions(ctl.signal).then(setOpts);
    return () => ctl.abort();
  }, []);
  const providers = opts?.providers ?? [];
  // Shown in place of another page, the sign-in returns to that page.
  const back = window.location.pathname === "/signin" ? returnPathOf(window.location.search) : window.location.pathname + window.location.search;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await accounts.signIn({ email: email.trim(), password });
      markSignedIn();
      if (window.location.pathname === "/signin") navigate(returnPathOf(window.location.search), { replace: true });
    } catch (err) {
      setProblem(describe(err, "sign in"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="page narrow" data-testid="sign-in">
      <h1>Sign in to stich</h1>
      {providers.length > 0 && (
        <div className="sign-in-providers" data-testid="sign-in-providers">
          {providers.map((p) => (
            <a key={p.name} className="btn primary" href={withReturn(p.start, back)} data-testid={`sign-in-${p.name}`}>
              Sign in with {p.label}
            </a>
          ))}
          <p>
            {opts?.signUp
              ? "The first sign-in makes your account, with the e-mail the provider has verified."
              : "Only the owner of this node can sign in this way (with the owner's e-mail)."}
          </p>
        </div>
      )}
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
