// Gallery items: pictures by URL, or a generated color tile when there is none.

export interface Item {
  id: string;
  title: string;
  url: string;
  tags: string[];
  hue: number;
}

export interface Config {
  title: string;
  subtitle: string;
  storageKey: string;
  samples: { title: string; tags: string[] }[];
}

/** safeImageUrl accepts only http(s) and data:image URLs, so a stored item cannot run script. */
export function safeImageUrl(raw: string): string | null {
  const s = raw.trim();
  if (s === "") return "";
  if (/^data:image\/(png|jpe?g|gif|webp);/i.test(s)) return s;
  try {
    const u = new URL(s);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

export function splitTags(raw: string): string[] {
  return [...new Set(raw.split(",").map((t) => t.trim().toLowerCase()).filter((t) => t !== ""))];
}

export function isItem(raw: unknown): Item | null {
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const url = typeof r.url === "string" ? safeImageUrl(r.url) : null;
  if (typeof r.id !== "string" || typeof r.title !== "string" || url === null || typeof r.hue !== "number") return null;
  const tags = Array.isArray(r.tags) ? r.tags.filter((t): t is string => typeof t === "string") : [];
  return { id: r.id, title: r.title, url, tags, hue: r.hue };
}
