// Pure helpers of the apps list (pages/Apps.tsx, Home's recent apps): the
// list's state transitions, title rules and download addresses. Kept free
// of React so vitest covers them without a browser.
import type { AppSummary } from "../gen/stich/v1/session_pb";

/** TITLE_MAX is RenameSessionRequest.title's max_len (session.proto). */
export const TITLE_MAX = 120;

/** titleProblem says what is wrong with a title the user typed, or undefined when the server will accept it. */
export function titleProblem(raw: string): string | undefined {
  const t = normalizeTitle(raw);
  if (!t) return "Type a title (it cannot be only spaces).";
  if ([...raw].length > TITLE_MAX) return `Keep the title to ${TITLE_MAX} characters (it has ${[...raw].length}).`;
  return undefined;
}

/** normalizeTitle collapses runs of whitespace, as the server does. */
export function normalizeTitle(raw: string): string {
  return raw.trim().split(/\s+/).filter(Boolean).join(" ");
}

/** downloadUrl is the zip of an app's current files, or of one version (rpc/download.go). */
export function downloadUrl(sessionId: string, version?: number, csrf = ""): string {
  const base = `/api/sessions/${encodeURIComponent(sessionId)}/download.zip`;
  const q = new URLSearchParams();
  if (version && version > 0) q.set("version", String(version));
  // A download is a plain GET that acts for the signed-in browser: it carries the CSRF token (api.csrfToken).
  if (csrf) q.set("csrf", csrf);
  const qs = q.toString();
  return qs ? `${base}?${qs}` : base;
}

/** AppsState is what the apps screen knows: the pages loaded so far. */
export interface AppsState {
  apps: AppSummary[];
  /** Token of the next page; "" when the last page is loaded. */
  next: string;
  total: number;
}

export const emptyApps: AppsState = { apps: [], next: "", total: 0 };

/**
 * appendPage adds a page to the list. An app already listed (it moved up
 * between two page loads because it was updated) keeps its first place.
 */
export function appendPage(s: AppsState, page: { apps: AppSummary[]; nextPageToken: string; total: number }, first: boolean): AppsState {
  const base = first ? [] : s.apps;
  const seen = new Set(base.map((a) => a.sessionId));
  return { apps: [...base, ...page.apps.filter((a) => !seen.has(a.sessionId))], next: page.nextPageToken, total: page.total };
}

/** renamed replaces an app's entry after RenameSession. */
export function renamed(s: AppsState, app: AppSummary): AppsState {
  return { ...s, apps: s.apps.map((a) => (a.sessionId === app.sessionId ? app : a)) };
}

/** removed drops an app after DeleteSession. */
export function removed(s: AppsState, sessionId: string): AppsState {
  const apps = s.apps.filter((a) => a.sessionId !== sessionId);
  return { ...s, apps, total: Math.max(0, s.total - (apps.length < s.apps.length ? 1 : 0)) };
}

/** displayTitle is what an app is called in lists. */
export function displayTitle(a: Pick<AppSummary, "title" | "prompt" | "sessionId">): string {
  return a.title || a.prompt || a.sessionId;
}

/** ago says how long before now a time was, briefly ("just now", "5 min ago", "3 h ago", "2 d ago"). */
export function ago(then: Date, now: Date = new Date()): string {
  const s = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  if (s < 45) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  if (d < 30) return `${d} d ago`;
  return then.toLocaleDateString();
}
