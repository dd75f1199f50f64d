// Field metadata shared by every form, and the conversions between stored
// records and the drafts that forms edit.

export type FieldType = "string" | "number" | "boolean" | "date" | "string[]" | "rating";

/** How a string field is entered. */
export type TextHint = "text" | "textarea" | "email" | "tel" | "url";

export interface FieldDef {
  key: string;
  label: string;
  type: FieldType;
  hint: TextHint;
  required: boolean;
}

/**
 * A draft holds raw form input: text for text, number, date and list fields
 * (so that "1." or "eggs, " can be typed), booleans for checkboxes and
 * numbers for star ratings.
 */
export type DraftValue = string | boolean | number;
export type Draft = Record<string, DraftValue>;

export function emptyDraft(fields: readonly FieldDef[]): Draft {
  const draft: Draft = {};
  for (const field of fields) {
    draft[field.key] = field.type === "boolean" ? false : field.type === "rating" ? 0 : "";
  }
  return draft;
}

/** toDraft turns a stored record into form input. */
export function toDraft(fields: readonly FieldDef[], record: object): Draft {
  const source = record as Record<string, unknown>;
  const draft = emptyDraft(fields);
  for (const field of fields) {
    const value = source[field.key];
    switch (field.type) {
      case "boolean":
        draft[field.key] = value === true;
        break;
      case "rating":
        draft[field.key] = asRating(value);
        break;
      case "number":
        draft[field.key] = typeof value === "number" && Number.isFinite(value) ? String(value) : "";
        break;
      case "string[]":
        draft[field.key] = asList(value).join(", ");
        break;
      default:
        draft[field.key] = typeof value === "string" ? value : "";
    }
  }
  return draft;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** validateDraft returns an error message per invalid field key. */
export function validateDraft(fields: readonly FieldDef[], draft: Draft): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const value = draft[field.key];
    const text = typeof value === "string" ? value.trim() : "";
    if (field.type === "boolean") continue;
    if (field.type === "rating") {
      if (field.required && (typeof value !== "number" || value < 1)) errors[field.key] = `Choose a ${field.label.toLowerCase()}.`;
      continue;
    }
    if (text === "") {
      if (field.required) errors[field.key] = `${field.label} is required.`;
      continue;
    }
    if (field.type === "number" && !Number.isFinite(Number(text))) {
      errors[field.key] = `${field.label} must be a number.`;
    } else if (field.type === "date" && !DATE.test(text)) {
      errors[field.key] = `${field.label} must be a date.`;
    } else if (field.hint === "email" && !EMAIL.test(text)) {
      errors[field.key] = "Enter an email address like name@example.com.";
    } else if (field.hint === "url" && !isWebUrl(text)) {
      errors[field.key] = "Enter a web address starting with https://.";
    }
  }
  return errors;
}

/** isWebUrl accepts only http(s) links, so a stored value is safe to use as an href. */
export function isWebUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

// Readers used by the generated schema to turn drafts and stored JSON into
// typed records. They never throw: unexpected input becomes an empty value.

export function asString(value: unknown): string {
  return typeof value === "string" ? value.trim() : "";
}

export function asNumber(value: unknown): number {
  if (typeof value === "number") return Number.isFinite(value) ? value : 0;
  if (typeof value === "string" && value.trim() !== "") {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : 0;
  }
  return 0;
}

export function asBoolean(value: unknown): boolean {
  return value === true;
}

export function asDate(value: unknown): string {
  return typeof value === "string" && DATE.test(value.trim()) ? value.trim() : "";
}

export function asRating(value: unknown): number {
  const n = asNumber(value);
  return Math.min(5, Math.max(0, Math.round(n)));
}

export function asList(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.filter((item): item is string => typeof item === "string").map((item) => item.trim()).filter(Boolean);
  }
  if (typeof value === "string") {
    return value.split(",").map((item) => item.trim()).filter(Boolean);
  }
  return [];
}

/** isObject narrows parsed JSON to a plain object before a record is read from it. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
