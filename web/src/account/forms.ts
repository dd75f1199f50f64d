// Form rules of the account pages, kept apart from React so vitest can
// check them: what the server would refuse is said before a request.
import type { Credential, ModelBudget } from "../gen/stich/v1/account_pb";

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

/** budgetText says where the caller stands against the daily model budget. */
export function budgetText(b: ModelBudget): string {
  const spent = `$${b.spentUsd.toFixed(2)}`;
  if (b.exempt) return `Your own model key is used: the server's daily model budget does not apply (${spent} of the server's models used today).`;
  if (b.dailyUsd <= 0) return `No daily model budget on this server; ${spent} spent today.`;
  const resets = b.resetsAt ? new Date(Number(b.resetsAt.seconds) * 1000).toISOString().slice(11, 16) + " UTC" : "00:00 UTC";
  const left = Math.max(0, b.dailyUsd - b.spentUsd);
  return `${spent} of $${b.dailyUsd.toFixed(2)} spent today; $${left.toFixed(2)} left until ${resets}.`;
}
