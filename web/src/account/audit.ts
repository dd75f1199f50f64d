// What the security activity list and the admin users page show, kept
// apart from React so vitest can check it.
import type { AuditEvent, UserSummary } from "../gen/stich/v1/account_pb";

/** KIND_LABELS names each audit event kind for people. */
export const KIND_LABELS: Record<string, string> = {
  sign_in: "Signed in",
  sign_in_failed: "Sign-in refused",
  sign_out: "Signed out",
  sign_out_everywhere: "Signed out everywhere",
  credentials_refused: "Credentials refused",
  csrf_refused: "Request without its CSRF token refused",
  key_created: "API key made",
  key_revoked: "API key or session revoked",
  role_changed: "Role changed",
  account_disabled: "Account disabled",
  account_enabled: "Account enabled",
  reset_requested: "Password reset requested",
  password_reset: "Password reset",
  email_verified: "E-mail verified",
  sign_up: "Sign-up",
  invite_created: "Invite made",
  admin_denied: "Admin call refused",
  visibility_changed: "App visibility changed",
  app_deleted: "App deleted",
  rate_limited: "Too many attempts",
  preview_ticket: "Preview of another user's app opened",
  preview_refused: "Preview access refused",
  audit_dropped: "Events dropped",
};

/** REFUSALS are the kinds shown as warnings. */
const REFUSALS = new Set(["sign_in_failed", "credentials_refused", "csrf_refused", "admin_denied", "rate_limited", "preview_refused", "audit_dropped"]);

/** AuditRow is one line of an audit list. */
export interface AuditRow {
  id: string;
  when: string;
  what: string;
  /** warn marks refusals. */
  warn: boolean;
  /** who is the account's e-mail (or id), for the admin view. */
  who: string;
  /** by names an admin who acted on the account, if any. */
  by: string;
  from: string;
  how: string;
  detail: string;
}

/** when formats a timestamp as "2026-12-07 15:04 UTC" ("" when unknown). */
export function when(ts: { seconds: bigint } | undefined): string {
  if (!ts) return "";
  return new Date(Number(ts.seconds) * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/** auditRows turns events (newest first, as listed) into rows. */
export function auditRows(events: AuditEvent[]): AuditRow[] {
  return events.map((e) => ({
    id: String(e.id),
    when: when(e.at),
    what: (KIND_LABELS[e.kind] ?? e.kind) + (e.count > 1 ? ` (×${e.count})` : ""),
    warn: REFUSALS.has(e.kind),
    who: e.email || e.userId || "unknown account",
    by: e.actorId,
    from: e.client,
    how: e.method,
    detail: e.detail,
  }));
}

/** UserRow is one line of the admin users table. */
export interface UserRow {
  id: string;
  email: string;
  name: string;
  role: string;
  created: string;
  lastSignIn: string;
  verified: boolean;
  disabled: boolean;
}

/** userRows turns the users list into rows. */
export function userRows(users: UserSummary[]): UserRow[] {
  return users.map((u) => ({
    id: u.userId,
    email: u.email || "(no e-mail: the node's owner)",
    name: u.displayName,
    role: u.role,
    created: when(u.createdAt),
    lastSignIn: when(u.lastSignInAt) || "never",
    verified: u.emailVerified,
    disabled: u.disabled,
  }));
}

/** KIND_FILTERS are the kinds the admin can filter the audit list by. */
export const KIND_FILTERS: { value: string; label: string }[] = [
  { value: "", label: "Every kind" },
  { value: "sign_in,sign_in_failed", label: "Sign-ins and failures" },
  { value: "credentials_refused,csrf_refused", label: "Refused credentials" },
  { value: "key_created,key_revoked", label: "API keys" },
  { value: "role_changed,account_disabled,account_enabled", label: "Roles and disabling" },
  { value: "visibility_changed,app_deleted", label: "Apps" },
  { value: "preview_ticket,preview_refused", label: "Previews" },
];

/** kindsOf splits a KIND_FILTERS value. */
export function kindsOf(filter: string): string[] {
  return filter ? filter.split(",") : [];
}
