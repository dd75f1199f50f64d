import { useState, type FormEvent } from "react";
import { content } from "../content";
import { newId, useStoredList } from "../storage";
import type { Signup } from "../types";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function parseSignup(raw: unknown): Signup | null {
  if (typeof raw !== "object" || raw === null) return null;
  const record = raw as Record<string, unknown>;
  if (typeof record.id !== "string" || typeof record.email !== "string" || typeof record.createdAt !== "string") return null;
  return { id: record.id, email: record.email, createdAt: record.createdAt };
}

/** CallToAction collects email sign-ups and keeps them in this browser. */
export function CallToAction() {
  const [signups, setSignups] = useStoredList<Signup>(content.storageKey, parseSignup);
  const [email, setEmail] = useState("");
  const [error, setError] = useState("");
  const [done, setDone] = useState(false);

  function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const value = email.trim();
    if (!EMAIL.test(value)) {
      setError("Enter an email address like name@example.com.");
      return;
    }
    setError("");
    setSignups((current) => (current.some((s) => s.email === value) ? current : [...current, { id: newId(), email: value, createdAt: new Date().toISOString() }]));
    setEmail("");
    setDone(true);
  }

  return (
    <section id="signup" className="cta" aria-labelledby="cta-title">
      <div className="container cta-inner">
        <h2 id="cta-title" className="section-title">
          {content.cta.title}
        </h2>
        <p className="cta-text">{content.cta.text}</p>
        {done ? (
          <p className="cta-thanks" role="status">
            Thank you! You are on the list.
          </p>
        ) : (
          <form className="cta-form" onSubmit={handleSubmit} noValidate>
            <label htmlFor="cta-email" className="sr-only">
              Email address
            </label>
            <input
              id="cta-email"
              type="email"
              autoComplete="email"
              placeholder="you@example.com"
              value={email}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? "cta-error" : undefined}
              onChange={(event) => setEmail(event.target.value)}
            />
            <button type="submit" className="btn btn-primary">
              {content.cta.button}
            </button>
          </form>
        )}
        {error && (
          <p id="cta-error" className="field-error" role="alert">
            {error}
          </p>
        )}
        {signups.length > 0 && (
          <p className="muted cta-count">
            {signups.length === 1 ? "1 sign-up" : `${signups.length} sign-ups`} saved in this browser.
          </p>
        )}
      </div>
    </section>
  );
}
