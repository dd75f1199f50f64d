// Notes and a small Markdown reader. Markdown becomes a tree of blocks and
// inline spans that the view renders as React elements, never as HTML, so a
// note cannot add markup or script.

export interface Note {
  id: string;
  text: string;
  updatedAt: string;
}

export interface Config {
  title: string;
  subtitle: string;
  storageKey: string;
  welcome: string;
}

export type Span =
  | { kind: "text"; text: string }
  | { kind: "strong" | "em" | "code"; text: string }
  | { kind: "link"; text: string; href: string };

export type Block =
  | { kind: "heading"; level: 1 | 2 | 3; spans: Span[] }
  | { kind: "paragraph"; spans: Span[] }
  | { kind: "list"; ordered: boolean; items: Span[][] }
  | { kind: "quote"; spans: Span[] }
  | { kind: "code"; text: string };

/** inline splits a line into text, **strong**, *em*, `code` and [links](https://...). */
export function inline(line: string): Span[] {
  const out: Span[] = [];
  const re = /(\*\*[^*]+\*\*|\*[^*]+\*|`[^`]+`|\[[^\]]+\]\([^)\s]+\))/g;
  let last = 0;
  for (const m of line.matchAll(re)) {
    const at = m.index ?? 0;
    if (at > last) out.push({ kind: "text", text: line.slice(last, at) });
    const t = m[0];
    if (t.startsWith("**")) out.push({ kind: "strong", text: t.slice(2, -2) });
    else if (t.startsWith("`")) out.push({ kind: "code", text: t.slice(1, -1) });
    else if (t.startsWith("[")) {
      const close = t.indexOf("](");
      const href = t.slice(close + 2, -1);
      const label = t.slice(1, close);
      out.push(/^(https?:|mailto:)/i.test(href) ? { kind: "link", text: label, href } : { kind: "text", text: label });
    } else out.push({ kind: "em", text: t.slice(1, -1) });
    last = at + t.length;
  }
  if (last < line.length) out.push({ kind: "text", text: line.slice(last) });
  return out;
}

/** parse reads Markdown headings, lists, quotes, fenced code and paragraphs. */
export function parse(markdown: string): Block[] {
  const lines = markdown.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length > 0) blocks.push({ kind: "paragraph", spans: inline(para.join(" ")) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const heading = /^(#{1,3})\s+(.*)$/.exec(line);
    if (line.startsWith("```")) {
      flush();
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      blocks.push({ kind: "code", text: code.join("\n") });
    } else if (heading) {
      flush();
      blocks.push({ kind: "heading", level: heading[1].length as 1 | 2 | 3, spans: inline(heading[2]) });
    } else if (/^\s*([-*]|\d+\.)\s+/.test(line)) {
      flush();
      const ordered = /^\s*\d+\./.test(line);
      const items: Span[][] = [];
      while (i < lines.length && /^\s*([-*]|\d+\.)\s+/.test(lines[i])) {
        items.push(inline(lines[i].replace(/^\s*([-*]|\d+\.)\s+/, "")));
        i++;
      }
      i--;
      blocks.push({ kind: "list", ordered, items });
    } else if (/^>/.test(line)) {
      flush();
      blocks.push({ kind: "quote", spans: inline(line.replace(/^>\s?/, "")) });
    } else if (line.trim() === "") {
      flush();
    } else {
      para.push(line.trim());
    }
  }
  flush();
  return blocks;
}

/** titleOf is a note's first line without Markdown marks. */
export function titleOf(text: string): string {
  const first = text.split("\n").find((l) => l.trim() !== "") ?? "";
  return first.replace(/^#+\s*/, "").replace(/[*`_]/g, "").trim().slice(0, 80) || "Untitled";
}

export function isNote(raw: unknown): Note | null {
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  return typeof r.id === "string" && typeof r.text === "string" && typeof r.updatedAt === "string"
    ? { id: r.id, text: r.text, updatedAt: r.updatedAt }
    : null;
}
