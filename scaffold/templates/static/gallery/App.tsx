import { type FormEvent, useEffect, useState } from "react";
import { config } from "./config";
import { isItem, safeImageUrl, splitTags, type Item } from "./logic";
import { Shell } from "./components/Shell";
import { listOf, newId, usePersisted } from "./persist";

const samples: Item[] = config.samples.map((s, i) => ({ id: "sample-" + i, title: s.title, url: "", tags: s.tags, hue: (i * 67) % 360 }));

function Picture({ item, large }: { item: Item; large?: boolean }) {
  if (item.url) return <img className="gallery-img" src={item.url} alt={item.title} loading="lazy" />;
  return (
    <svg className="gallery-img" viewBox="0 0 160 120" role="img" aria-label={item.title}>
      <defs>
        <linearGradient id={"g-" + item.id + (large ? "-l" : "")} x1="0" y1="0" x2="1" y2="1">
          <stop offset="0" stopColor={`hsl(${item.hue} 70% 65%)`} />
          <stop offset="1" stopColor={`hsl(${(item.hue + 40) % 360} 70% 45%)`} />
        </linearGradient>
      </defs>
      <rect width="160" height="120" fill={`url(#g-${item.id}${large ? "-l" : ""})`} />
      <circle cx="120" cy="34" r="14" fill="rgba(255,255,255,0.55)" />
      <path d="M0 120 L50 62 L82 96 L108 72 L160 120 Z" fill="rgba(255,255,255,0.35)" />
    </svg>
  );
}

export default function App() {
  const [items, setItems] = usePersisted<Item[]>(config.storageKey + ":items", samples, listOf(isItem));
  const [filter, setFilter] = useState("");
  const [openId, setOpenId] = useState<string | null>(null);
  const [title, setTitle] = useState("");
  const [url, setUrl] = useState("");
  const [tags, setTags] = useState("");
  const [error, setError] = useState("");
  const allTags = [...new Set(items.flatMap((i) => i.tags))].sort();
  const shown = filter ? items.filter((i) => i.tags.includes(filter)) : items;
  const openIndex = shown.findIndex((i) => i.id === openId);
  const open = openIndex >= 0 ? shown[openIndex] : null;

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setOpenId(null);
      if (e.key === "ArrowRight") setOpenId(shown[(openIndex + 1) % shown.length].id);
      if (e.key === "ArrowLeft") setOpenId(shown[(openIndex - 1 + shown.length) % shown.length].id);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [open, openIndex, shown]);

  function add(e: FormEvent) {
    e.preventDefault();
    const safe = safeImageUrl(url);
    if (title.trim() === "") return setError("Give the picture a title.");
    if (safe === null) return setError("Use an https:// image address, or leave it empty for a color tile.");
    setItems((xs) => [{ id: newId(), title: title.trim(), url: safe, tags: splitTags(tags), hue: (xs.length * 67) % 360 }, ...xs]);
    setTitle("");
    setUrl("");
    setTags("");
    setError("");
  }

  return (
    <Shell title={config.title} subtitle={config.subtitle}>
      {allTags.length > 0 && (
        <nav className="tabs" aria-label="Filter by tag">
          <button type="button" className="tab" aria-pressed={filter === ""} onClick={() => setFilter("")}>
            All
          </button>
          {allTags.map((t) => (
            <button key={t} type="button" className="tab" aria-pressed={filter === t} onClick={() => setFilter(t)}>
              {t}
            </button>
          ))}
        </nav>
      )}
      <ul className="gallery-grid" data-testid="grid">
        {shown.map((item) => (
          <li key={item.id} className="gallery-item">
            <button type="button" className="gallery-open" onClick={() => setOpenId(item.id)} aria-label={"Open " + item.title}>
              <Picture item={item} />
            </button>
            <div className="gallery-caption">
              <span>{item.title}</span>
              <button
                type="button"
                className="btn-link btn-danger"
                aria-label={"Delete " + item.title}
                onClick={() => setItems((xs) => xs.filter((x) => x.id !== item.id))}
              >
                Delete
              </button>
            </div>
          </li>
        ))}
      </ul>
      {shown.length === 0 && <p className="muted">No pictures yet: add one below.</p>}
      <form className="panel" onSubmit={add} aria-label="Add a picture">
        <h2 className="panel-title">Add a picture</h2>
        <label className="field">
          <span>Title</span>
          <input name="title" value={title} onChange={(e) => setTitle(e.target.value)} />
        </label>
        <label className="field">
          <span>Image address (optional)</span>
          <input name="url" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://" />
        </label>
        <label className="field">
          <span>Tags, separated by commas</span>
          <input name="tags" value={tags} onChange={(e) => setTags(e.target.value)} />
        </label>
        {error && <p className="field-error">{error}</p>}
        <button type="submit" className="btn btn-primary">
          Add
        </button>
      </form>
      {open && (
        <div className="lightbox" role="dialog" aria-modal="true" aria-label={open.title} onClick={() => setOpenId(null)}>
          <figure onClick={(e) => e.stopPropagation()}>
            <Picture item={open} large />
            <figcaption>
              {open.title}
              <span className="muted"> · {openIndex + 1} of {shown.length}</span>
            </figcaption>
            <div className="row">
              <button type="button" className="btn" onClick={() => setOpenId(shown[(openIndex - 1 + shown.length) % shown.length].id)}>
                Previous
              </button>
              <button type="button" className="btn" onClick={() => setOpenId(shown[(openIndex + 1) % shown.length].id)}>
                Next
              </button>
              <button type="button" className="btn btn-primary" onClick={() => setOpenId(null)}>
                Close
              </button>
            </div>
          </figure>
        </div>
      )}
    </Shell>
  );
}
