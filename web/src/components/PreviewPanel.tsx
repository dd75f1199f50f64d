import { useState } from "react";

interface Props {
  url?: string;
  /** Changes with every new build of the preview; the frame reloads then. */
  build?: number;
  /** Whether the session is still working (the first preview follows its first phase). */
  working?: boolean;
  /** Why the server builds no previews ("" or undefined when it does). */
  buildsOff?: string;
}

/** safePreview accepts only http(s) URLs; same-origin previews lose allow-same-origin (it would let them escape the sandbox). */
function safePreview(raw: string): { url: string; sandbox: string } | undefined {
  let u: URL;
  try {
    u = new URL(raw, window.location.href);
  } catch {
    return undefined;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
  const base = "allow-scripts allow-forms allow-popups allow-modals";
  return { url: u.href, sandbox: u.origin === window.location.origin ? base : `${base} allow-same-origin` };
}

/** PreviewPanel shows the running app once the server reports a preview URL. */
export function PreviewPanel({ url, build, working, buildsOff }: Props) {
  const [reloads, setReloads] = useState(0);
  const p = url ? safePreview(url) : undefined;
  if (!p && buildsOff) {
    return (
      <div className="pad preview-empty" data-testid="preview-off">
        <p>
          <strong>Builds and previews are off on this server.</strong>
        </p>
        <p className="muted">
          Why: {buildsOff}. Apps are still generated; save the files from the Code tab and run{" "}
          <code>npm install &amp;&amp; npm run dev</code>, or ask the server&apos;s operator to turn builds on.
        </p>
      </div>
    );
  }
  if (!p) {
    return (
      <div className="pad preview-empty" data-testid="preview-empty">
        <p>
          <strong>{url ? "The preview address is not a web address this page can show." : "Preview not available yet."}</strong>
        </p>
        <p className="muted">
          {url
            ? `The server reported “${url}”. `
            : working
              ? "The app appears here once its first phase is installed, type-checked and bundled (see the Logs tab). "
              : "This server reported no preview for this app (builds may be off on it: see the Logs tab). "}
          You can also save the files from the Code tab and run <code>npm install &amp;&amp; npm run dev</code>.
        </p>
      </div>
    );
  }
  return (
    <div className="preview">
      <div className="row between pad-x">
        <button type="button" className="btn small" onClick={() => setReloads((n) => n + 1)} data-testid="preview-reload">
          Reload
        </button>
        <a href={p.url} target="_blank" rel="noreferrer noopener" className="small">
          Open in a new tab ↗
        </a>
      </div>
      <iframe key={`${build ?? 0}-${reloads}`} title="App preview" src={p.url} sandbox={p.sandbox} data-testid="preview-frame" />
    </div>
  );
}
