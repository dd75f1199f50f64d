import { useState } from "react";
import { config } from "./config";
import { isNote, parse, titleOf, type Block, type Note, type Span } from "./logic";
import { Shell } from "./components/Shell";
import { listOf, newId, usePersisted } from "./persist";

function Spans({ spans }: { spans: Span[] }) {
  return (
    <>
      {spans.map((s, i) => {
        switch (s.kind) {
          case "strong":
            return <strong key={i}>{s.text}</strong>;
          case "em":
            return <em key={i}>{s.text}</em>;
          case "code":
            return <code key={i}>{s.text}</code>;
          case "link":
            return (
              <a key={i} href={s.href} target="_blank" rel="noreferrer noopener">
                {s.text}
              </a>
            );
          default:
            return <span key={i}>{s.text}</span>;
        }
      })}
    </>
  );
}

function Preview({ blocks }: { blocks: Block[] }) {
  return (
    <div className="markdown" data-testid="preview">
      {blocks.map((b, i) => {
        switch (b.kind) {
          case "heading": {
            const H = (["h2", "h3", "h4"] as const)[b.level - 1];
            return (
              <H key={i}>
                <Spans spans={b.spans} />
              </H>
            );
          }
          case "list": {
            const L = b.ordered ? "ol" : "ul";
            return (
              <L key={i}>
                {b.items.map((item, j) => (
                  <li key={j}>
                    <Spans spans={item} />
                  </li>
                ))}
              </L>
            );
          }
          case "quote":
            return (
              <blockquote key={i}>
                <Spans spans={b.spans} />
              </blockquote>
            );
          case "code":
            return (
              <pre key={i}>
                <code>{b.text}</code>
              </pre>
            );
          default:
            return (
              <p key={i}>
                <Spans spans={b.spans} />
              </p>
            );
        }
      })}
    </div>
  );
}

const first: Note = { id: "welcome", text: config.welcome, updatedAt: "2024-01-01T00:00:00.000Z" };

export default function App() {
  const [notes, setNotes] = usePersisted<Note[]>(config.storageKey + ":notes", [first], listOf(isNote));
  const [selected, setSelected] = useState<string | null>(notes[0]?.id ?? null);
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState<"write" | "preview">("write");
  const note = notes.find((n) => n.id === selected) ?? null;
  const q = query.trim().toLowerCase();
  const listed = notes
    .filter((n) => q === "" || n.text.toLowerCase().includes(q))
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));

  function create() {
    const n: Note = { id: newId(), text: "# New note\n\n", updatedAt: new Date().toISOString() };
    setNotes((ns) => [n, ...ns]);
    setSelected(n.id);
    setMode("write");
  }

  function edit(text: string) {
    if (!note) return;
    setNotes((ns) => ns.map((n) => (n.id === note.id ? { ...n, text, updatedAt: new Date().toISOString() } : n)));
  }

  function remove() {
    if (!note || !window.confirm(`Delete "${titleOf(note.text)}"?`)) return;
    setNotes((ns) => ns.filter((n) => n.id !== note.id));
    setSelected(null);
  }

  return (
    <Shell title={config.title} subtitle={config.subtitle}>
      <div className="notes-layout">
        <aside className="panel notes-list" aria-label="Notes">
          <div className="row">
            <button type="button" className="btn btn-primary" onClick={create}>
              New note
            </button>
          </div>
          <input className="notes-search" type="search" aria-label="Search notes" placeholder="Search" value={query} onChange={(e) => setQuery(e.target.value)} />
          <ul className="plain-list">
            {listed.map((n) => (
              <li key={n.id}>
                <button type="button" className={"note-link" + (n.id === selected ? " is-active" : "")} onClick={() => setSelected(n.id)}>
                  {titleOf(n.text)}
                </button>
              </li>
            ))}
          </ul>
          {listed.length === 0 && <p className="muted">No notes match.</p>}
        </aside>
        <section className="panel notes-editor" aria-label="Editor">
          {note ? (
            <>
              <div className="row">
                <nav className="tabs" aria-label="Mode">
                  <button type="button" className="tab" aria-pressed={mode === "write"} onClick={() => setMode("write")}>
                    Write
                  </button>
                  <button type="button" className="tab" aria-pressed={mode === "preview"} onClick={() => setMode("preview")}>
                    Preview
                  </button>
                </nav>
                <button type="button" className="btn btn-small btn-danger" onClick={remove}>
                  Delete note
                </button>
              </div>
              {mode === "write" ? (
                <textarea className="notes-text" aria-label="Note text (Markdown)" value={note.text} onChange={(e) => edit(e.target.value)} />
              ) : (
                <Preview blocks={parse(note.text)} />
              )}
            </>
          ) : (
            <p className="muted">Pick a note or start a new one.</p>
          )}
        </section>
      </div>
    </Shell>
  );
}
