// Form rules of the account pages, kept apart from React so vitest can
// check them: what the server would refuse is said before a request.
import type { Credential } from "../gen/stich/v1/account_pb";

/** EMAIL is a loose shape check; the server's check is the real one. */
const EMAIL = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;".]+$/;

/** SignUpForm is what the sign-up page collects. */
export interface SignUpForm {
  email: string;
  password: string;
  confirm: string;
}

/** signUpProblems lists what is wrong with a sign-up form (empty when it can be sent). */
export function signUpProblems(f: SignUpForm): string[] {
  const out: string[] = [];
  if (!EMAIL.test(f.email.trim())) out.push("Enter an e-mail address such as name@example.com.");
  const bytes = new TextEncoder().encode(f.password).length;
  if (bytes < 8) out.push("The password needs at least 8 characters.");
  if (bytes > 1024) out.push("The password is longer than 1024 bytes.");
  if (f.password !== f.confirm) out.push("The two passwords differ.");
  return out;
}

/** queryParam reads one parameter of a location's query ("" when absent). */
export function queryParam(search: string, name: string): string {
  return new URLSearchParams(search).get(name) ?? "";
}

/** CredentialRow is one line of the account page's keys and sessions table. */
export interface CredentialRow {
  id: string;
  kind: "browser session" | "API key";
  label: string;
  created: string;
  expires: string;
  current: boolean;
}

function day(ts: { seconds: bigint } | undefined): string {
  if (!ts) return "never";
  return new Date(Number(ts.seconds) * 1000).toISOString().slice(0, 10);
}

/** credentialRows orders the caller's credentials: this one first, then browser sessions, then API keys, newest first. */
export function credentialRows(creds: Credential[]): CredentialRow[] {
  return creds
    .map((c) => ({
      id: c.id,
      kind: c.browser ? ("browser session" as const) : ("API key" as const),
      label: c.label,
      created: day(c.createdAt),
      expires: day(c.expiresAt),
      current: c.current,
      rank: c.current ? 0 : c.browser ? 1 : 2,
      sort: Number(c.createdAt?.seconds ?? 0n),
    }))
    .sort((a, b) => a.rank - b.rank || b.sort - a.sort)
    .map(({ sort: _sort, rank: _rank, ...row }) => row);
}
