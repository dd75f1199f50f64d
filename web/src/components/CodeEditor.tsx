// CodeEditor is the file editor: CodeMirror 6 with JavaScript/TypeScript
// highlighting, Tab that indents (Escape then Tab leaves the editor, as
// CodeMirror documents), and the current problems as gutter markers. It is
// loaded only when editing starts (CodeViewer imports it lazily), so the
// first-load bundle does not carry it. It lives in a shadow root: there
// CodeMirror's styles are constructed style sheets, which the page's
// Content-Security-Policy (style-src 'self') allows, where the <style>
// elements it adds to a document would be blocked.
import { javascript } from "@codemirror/lang-javascript";
import { indentWithTab } from "@codemirror/commands";
import { setDiagnostics, type Diagnostic as LintDiagnostic } from "@codemirror/lint";
import { EditorView, keymap } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { useEffect, useRef } from "react";
import type { Diagnostic } from "../gen/stich/v1/session_pb";

interface Props {
  path: string;
  value: string;
  onChange: (text: string) => void;
  /** onSave gets the editor's text as it is now: a save right after a
   *  keystroke or paste must not wait for React to render the new draft. */
  onSave: (text: string) => void;
  onCancel: () => void;
  problems: readonly Diagnostic[];
}

function language(path: string) {
  if (!/\.(m?[jt]sx?|cjs|cts|mts)$/.test(path)) return [];
  return [javascript({ typescript: /\.[cm]?tsx?$/.test(path), jsx: /x$/.test(path) })];
}

function lint(view: EditorView, problems: readonly Diagnostic[]): LintDiagnostic[] {
  const doc = view.state.doc;
  return problems.map((d) => {
    const line = doc.line(Math.min(Math.max(d.line, 1), doc.lines));
    const from = Math.min(line.from + Math.max(d.column - 1, 0), line.to);
    return { from, to: line.to > from ? line.to : from, severity: d.severity === "warning" ? "warning" : "error", message: `${d.code ? `${d.code}: ` : ""}${d.message}` };
  });
}

/** sizing fills the host (page styles do not reach into the shadow root). */
const sizing = EditorView.theme({
  "&": { height: "100%", fontSize: "0.8rem", backgroundColor: "var(--code-bg)", color: "inherit" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.5" },
});

export default function CodeEditor({ path, value, onChange, onSave, onCancel, problems }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView>(undefined);
  // The latest callbacks, read by the editor's handlers.
  const calls = useRef({ onChange, onSave, onCancel });
  calls.current = { onChange, onSave, onCancel };

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const shadow = el.shadowRoot ?? el.attachShadow({ mode: "open" });
    const v = new EditorView({
      parent: shadow,
      root: shadow,
      doc: value,
      extensions: [
        keymap.of([
          { key: "Mod-s", preventDefault: true, run: (v) => (calls.current.onSave(v.state.doc.toString()), true) },
          { key: "Escape", run: () => (calls.current.onCancel(), true) },
          indentWithTab,
        ]),
        basicSetup,
        ...language(path),
        sizing,
        EditorView.contentAttributes.of({ "aria-label": `Edit ${path}`, "data-testid": "code-editor" }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) calls.current.onChange(u.state.doc.toString());
        }),
      ],
    });
    view.current = v;
    v.focus();
    return () => {
      v.destroy();
      view.current = undefined;
    };
    // One editor per file: value is its starting text only.
  }, [path]);

  useEffect(() => {
    const v = view.current;
    if (v) v.dispatch(setDiagnostics(v.state, lint(v, problems)));
  }, [problems, path]);

  return <div className="code-editor" ref={host} />;
}
