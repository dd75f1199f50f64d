// Local-storage persistence for one value: a React hook that keeps it in
// state and writes it back after every change. The key comes from
// config.storageKey, which is fixed per app (not derived from its title), so
// renaming the app never loses saved data.
import { useEffect, useState } from "react";

/**
 * usePersisted loads the value saved under key when parse accepts it (else
 * uses initial) and saves it again whenever it changes. Storage that is
 * full, disabled or corrupted never breaks the app: it keeps working in
 * memory.
 */
export function usePersisted<T>(key: string, initial: T, parse: (raw: unknown) => T | null) {
  const [value, setValue] = useState<T>(() => {
    try {
      const text = localStorage.getItem(key);
      if (text === null) return initial;
      return parse(JSON.parse(text)) ?? initial;
    } catch {
      return initial;
    }
  });
  useEffect(() => {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      // Storage is full or disabled; the value stays in memory for this visit.
    }
  }, [key, value]);
  return [value, setValue] as const;
}

/** listOf accepts an array and keeps the entries item accepts. */
export function listOf<T>(item: (raw: unknown) => T | null) {
  return (raw: unknown): T[] | null =>
    Array.isArray(raw) ? raw.map(item).filter((x): x is T => x !== null) : null;
}

/** record returns raw as a plain object, or null. */
export function record(raw: unknown): Record<string, unknown> | null {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
}

export function text(raw: unknown): string | null {
  return typeof raw === "string" ? raw : null;
}

export function num(raw: unknown): number | null {
  return typeof raw === "number" && Number.isFinite(raw) ? raw : null;
}

/** newId returns a unique id, also outside secure contexts where randomUUID is missing. */
export function newId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
