// Local-storage persistence: a React hook that keeps a list of records in
// state and writes it back after every change.
import { useEffect, useState } from "react";

/**
 * useStoredList loads the list saved under key, keeping only the entries
 * that parse validates, and saves the list again whenever it changes.
 * Storage that is full, disabled or corrupted never breaks the app: it keeps
 * working in memory.
 */
export function useStoredList<T>(key: string, parse: (raw: unknown) => T | null) {
  const [items, setItems] = useState<T[]>(() => load(key, parse));
  useEffect(() => {
    try {
      localStorage.setItem(key, JSON.stringify(items));
    } catch {
      // Storage is full or disabled; the data stays in memory for this visit.
    }
  }, [key, items]);
  return [items, setItems] as const;
}

function load<T>(key: string, parse: (raw: unknown) => T | null): T[] {
  try {
    const text = localStorage.getItem(key);
    if (text === null) return [];
    const data: unknown = JSON.parse(text);
    if (!Array.isArray(data)) return [];
    return data.map(parse).filter((item): item is T => item !== null);
  } catch {
    return [];
  }
}

/** newId returns a unique id, also outside secure contexts where randomUUID is missing. */
export function newId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
