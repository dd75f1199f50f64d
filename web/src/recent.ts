// Sessions this browser opened, in localStorage (the apps list itself comes
// from the server: SessionService.ListSessions). It remembers the provider
// label the server last reported, shown until GetServerInfo answers.
// Entries are validated on read; a corrupt store reads as empty instead of
// breaking the page.
import { SESSION_ID } from "./api";

export interface RecentSession {
  id: string;
  prompt: string;
  providerLabel: string;
  /** Epoch ms when this browser created or last opened it. */
  at: number;
}

const KEY = "stich.recent";
const PROVIDER_KEY = "stich.provider";
const MAX = 20;

export function listRecent(): RecentSession[] {
  try {
    const data: unknown = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    if (!Array.isArray(data)) return [];
    return data.filter(
      (x): x is RecentSession =>
        typeof x === "object" &&
        x !== null &&
        typeof x.id === "string" &&
        SESSION_ID.test(x.id) &&
        typeof x.prompt === "string" &&
        typeof x.providerLabel === "string" &&
        typeof x.at === "number",
    );
  } catch {
    return [];
  }
}

function save(list: RecentSession[]) {
  try {
    localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX)));
  } catch {
    // Storage full or disabled: recent sessions are a convenience.
  }
}

/** remember puts a session first in the list (updating what is known about it). */
export function remember(s: Partial<RecentSession> & { id: string }) {
  const list = listRecent();
  const old = list.find((x) => x.id === s.id);
  const entry: RecentSession = {
    id: s.id,
    prompt: s.prompt || old?.prompt || "",
    providerLabel: s.providerLabel || old?.providerLabel || "",
    at: Date.now(),
  };
  save([entry, ...list.filter((x) => x.id !== s.id)]);
  if (entry.providerLabel) rememberProvider(entry.providerLabel);
}

export function forget(id: string) {
  save(listRecent().filter((x) => x.id !== id));
}

export function forgetAll() {
  save([]);
}

/** lastProvider is the provider label the server reported most recently, or "". */
export function lastProvider(): string {
  try {
    return localStorage.getItem(PROVIDER_KEY) ?? "";
  } catch {
    return "";
  }
}

function rememberProvider(label: string) {
  try {
    localStorage.setItem(PROVIDER_KEY, label);
  } catch {
    // ignore
  }
}
