// Quiz questions and scoring.

export interface Question {
  question: string;
  choices: string[];
  /** Index into choices of the right answer. */
  answer: number;
}

export interface Config {
  title: string;
  subtitle: string;
  storageKey: string;
  questions: Question[];
}

/** score counts the answers (indexes into each question's choices) that are right. */
export function score(questions: Question[], answers: (number | null)[]): number {
  return questions.reduce((n, q, i) => n + (answers[i] === q.answer ? 1 : 0), 0);
}

/** isQuestion accepts a stored question only when its answer points at one of its choices. */
export function isQuestion(raw: unknown): Question | null {
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const choices = Array.isArray(r.choices) ? r.choices.filter((c): c is string => typeof c === "string") : [];
  if (typeof r.question !== "string" || choices.length < 2 || typeof r.answer !== "number") return null;
  if (!Number.isInteger(r.answer) || r.answer < 0 || r.answer >= choices.length) return null;
  return { question: r.question, choices, answer: r.answer };
}
