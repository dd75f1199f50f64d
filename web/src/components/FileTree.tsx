import { useMemo, useState } from "react";
import { formatBytes, type FileState } from "../session/reducer";

interface Props {
  files: Readonly<Record<string, FileState>>;
  order: readonly string[];
  selected?: string;
  onSelect: (path: string) => void;
  /** Whether the agent is working; an unfinished file of an idle session was interrupted. */
  active: boolean;
  /** Current problems per file path (a marker on the file). */
  problems?: Readonly<Record<string, number>>;
}

interface Dir {
  name: string;
  path: string;
  dirs: Map<string, Dir>;
  files: string[];
}

function buildTree(paths: readonly string[]): Dir {
  const root: Dir = { name: "", path: "", dirs: new Map(), files: [] };
  for (const p of paths) {
    const parts = p.split("/");
    let d = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const path = parts.slice(0, i + 1).join("/");
      let next = d.dirs.get(parts[i]);
      if (!next) {
        next = { name: parts[i], path, dirs: new Map(), files: [] };
        d.dirs.set(parts[i], next);
      }
      d = next;
    }
    d.files.push(p);
  }
  return root;
}

/** FileTree lists the app's files as folders; files appear and fill as they stream. */
export function FileTree({ files, order, selected, onSelect, active, problems = {} }: Props) {
  const tree = useMemo(() => buildTree(order), [order]);
  const [closed, setClosed] = useState<ReadonlySet<string>>(new Set());
  if (order.length === 0) return <p className="muted small pad">No files yet: they appear here as the agent writes them.</p>;

  function toggle(path: string) {
    setClosed((s) => {
      const n = new Set(s);
      if (n.has(path)) n.delete(path);
      else n.add(path);
      return n;
    });
  }

  function renderDir(d: Dir, depth: number) {
    const dirs = [...d.dirs.values()].sort((a, b) => a.name.localeCompare(b.name));
    const fs = [...d.files].sort((a, b) => a.localeCompare(b));
    return (
      <ul role={depth === 0 ? undefined : "group"} className="tree-list">
        {dirs.map((sub) => {
          const open = !closed.has(sub.path);
          return (
            <li key={sub.path}>
              <button type="button" className="tree-row dir" style={{ paddingLeft: `${0.5 + depth * 0.9}rem` }} aria-expanded={open} onClick={() => toggle(sub.path)}>
                <span className="chev" aria-hidden="true">
                  {open ? "▾" : "▸"}
                </span>
                {sub.name}/
              </button>
              {open && renderDir(sub, depth + 1)}
            </li>
          );
        })}
        {fs.map((p) => {
          const f = files[p];
          const state = !f ? "" : f.mismatch ? "mismatch" : f.done ? "done" : active ? "streaming" : "interrupted";
          return (
            <li key={p}>
              <button
                type="button"
                className={`tree-row file ${state}${p === selected ? " selected" : ""}`}
                style={{ paddingLeft: `${0.5 + depth * 0.9 + 0.9}rem` }}
                aria-current={p === selected ? "true" : undefined}
                data-path={p}
                data-state={state}
                title={f?.purpose || p}
                onClick={() => onSelect(p)}
              >
                <span className="name">{p.slice(p.lastIndexOf("/") + 1)}</span>
                {(problems[p] ?? 0) > 0 && (
                  <span className="badge bad problem-mark" data-testid="file-problem-mark" title={`${problems[p]} problem${problems[p] === 1 ? "" : "s"}`}>
                    {problems[p]}
                  </span>
                )}
                <span className="meta" aria-label={state === "streaming" ? "writing" : state === "interrupted" ? "unfinished" : state === "mismatch" ? "size mismatch" : undefined}>
                  {state === "streaming" ? "writing…" : state === "interrupted" ? "unfinished" : state === "mismatch" ? "⚠" : f ? formatBytes(f.compacted ? (f.size ?? 0) : f.bytes) : ""}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    );
  }

  return (
    <nav className="tree" aria-label="Files">
      {renderDir(tree, 0)}
    </nav>
  );
}
