// Flashcard decks and the review order: cards marked "again" come back
// before the deck is done.

export interface Card {
  front: string;
  back: string;
}

export interface Config {
  title: string;
  subtitle: string;
  storageKey: string;
  cards: Card[];
}

/** nextQueue removes the current card and, when it was missed, puts it back at the end. */
export function nextQueue(queue: number[], knewIt: boolean): number[] {
  const [current, ...rest] = queue;
  return knewIt || current === undefined ? rest : [...rest, current];
}

export function isCard(raw: unknown): Card | null {
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  return typeof r.front === "string" && typeof r.back === "string" ? { front: r.front, back: r.back } : null;
}
