import { useEffect, useState, type FormEvent } from "react";
import { accounts, describe, type Problem } from "../api";
import { queryParam, signUpProblems } from "../account/forms";
import { ProblemBox } from "../components/ProblemBox";
import { Link } from "../router";

/** SignUpPage makes an account (--auth multi); an invite link carries its token in ?invite=. */
export function SignUpPage() {
  const [form, setForm] = useState({ email: "", password: "", confirm: "", name: "" });
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [shown, setShown] = useState<string[]>([]);
  const invite = queryParam(window.location.search, "invite");
  useEffect(() => {
    document.title = "Sign up · stich";
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const problems = signUpProblems(form);
    setShown(problems);
    if (problems.length) return;
    setBusy(true);
    setProblem(null);
    try {
      await accounts.signUp({ email: form.email.trim(), password: form.password, displayName: form.name.trim(), inviteToken: invite });
      setDone(true);
    } catch (err) {
      setProblem(describe(err, "sign up"));
    } finally {
      setBusy(false);
    }
  }

  if (done) {
    return (
      <div className="page narrow" data-testid="sign-up-done">
        <h1>Check your e-mail</h1>
        <p>
          We sent a link to <strong>{form.email.trim()}</strong>. Open it to verify the address, then{" "}
          <Link href="/signin">sign in</Link>.
        </p>
      </div>
    );
  }
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  return (
    <div className="page narrow">
      <h1>Sign up</h1>
      <form className="account-form" onSubmit={submit} aria-label="Sign up" noValidate>
        <label>
          E-mail
          <input type="email" name="email" autoComplete="username" value={form.email} onChange={set("email")} />
        </label>
        <label>
          Name (optional)
          <input type="text" name="name" autoComplete="name" value={form.name} onChange={set("name")} />
        </label>
        <label>
          Password
          <input type="password" name="password" autoComplete="new-password" value={form.password} onChange={set("password")} />
        </label>
        <label>
          Password again
          <input type="password" name="confirm" autoComplete="new-password" value={form.confirm} onChange={set("confirm")} />
        </label>
        {shown.length > 0 && (
          <ul className="field-error" role="alert">
            {shown.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
        <button type="submit" className="btn primary" disabled={busy}>
          {busy ? "Signing up…" : "Sign up"}
        </button>
      </form>
      {problem && <ProblemBox problem={problem} />}
      <p>
        Have an account? <Link href="/signin">Sign in</Link>.
      </p>
    </div>
  );
}

/** VerifyPage consumes the token of a verification link (/verify?token=...). */
export function VerifyPage() {
  const [state, setState] = useState<"working" | "done" | Problem>("working");
  useEffect(() => {
    document.title = "Verify e-mail · stich";
    accounts
      .verifyEmail({ token: queryParam(window.location.search, "token") })
      .then(() => setState("done"))
      .catch((err) => setState(describe(err, "verify the e-mail")));
  }, []);
  return (
    <div className="page narrow" data-testid="verify">
      <h1>Verify your e-mail</h1>
      {state === "working" && <p role="status">Checking the link…</p>}
      {state === "done" && (
        <p role="status">
          Your e-mail is verified. <Link href="/signin">Sign in</Link>.
        </p>
      )}
      {typeof state === "object" && <ProblemBox problem={state} />}
    </div>
  );
}

/** ResetPage asks for a reset link, or (with ?token=) sets the new password. */
export function ResetPage() {
  const token = queryParam(window.location.search, "token");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    document.title = "Reset password · stich";
  }, []);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setProblem(null);
    try {
      if (token) await accounts.resetPassword({ token, newPassword: password });
      else await accounts.requestPasswordReset({ email: email.trim() });
      setDone(true);
    } catch (err) {
      setProblem(describe(err, token ? "set the password" : "send a reset link"));
    }
  }
  return (
    <div className="page narrow">
      <h1>Reset your password</h1>
      {done ? (
        <p role="status">
          {token ? (
            <>
              The new password is set and every browser was signed out. <Link href="/signin">Sign in</Link>.
            </>
          ) : (
            "If that e-mail has an account, a reset link is on its way (valid for an hour)."
          )}
        </p>
      ) : (
        <form className="account-form" onSubmit={submit} aria-label="Reset password">
          {token ? (
            <label>
              New password
              <input type="password" autoComplete="new-password" minLength={8} required value={password} onChange={(e) => setPassword(e.target.value)} />
            </label>
          ) : (
            <label>
              E-mail
              <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
            </label>
          )}
          <button type="submit" className="btn primary">
            {token ? "Set the password" : "Send a reset link"}
          </button>
        </form>
      )}
      {problem && <ProblemBox problem={problem} />}
    </div>
  );
}
