interface Props {
  url?: string;
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
export function PreviewPanel({ url }: Props) {
  const p = url ? safePreview(url) : undefined;
  if (!p) {
    return (
      <div className="pad preview-empty" data-testid="preview-empty">
        <p>
          <strong>{url ? "The preview address is not a web address this page can show." : "Preview not available yet."}</strong>
        </p>
        <p className="muted">
          {url ? `The server reported “${url}”. ` : "This server does not run previews yet. When it does, the app appears here as soon as it is ready. "}
          Meanwhile, save the files from the Code tab and run <code>npm install &amp;&amp; npm run dev</code>.
        </p>
      </div>
    );
  }
  return (
    <div className="preview">
      <div className="row between pad-x">
        <a href={p.url} target="_blank" rel="noreferrer noopener" className="small">
          Open in a new tab ↗
        </a>
      </div>
      <iframe title="App preview" src={p.url} sandbox={p.sandbox} />
    </div>
  );
}
