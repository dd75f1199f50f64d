import { useEffect, useState, type MouseEvent } from "react";
import { previewTicketUrl, versionPreviewUrl } from "../api";
import type { Diagnostic } from "../gen/stich/v1/session_pb";

interface Props {
  /** The session whose preview this is (its ticket is asked for by id). */
  sessionId: string;
  url?: string;
  /** The screenshot of the build (shown while the live frame loads). */
  screenshot?: string;
  /** Runtime problems of the current build (the runtime check's and the page's own reports). */
  runtime?: readonly Diagnostic[];
  /** Changes with every new build of the preview; the frame reloads then. */
  build?: number;
  /** Whether the session is still working (the first preview follows its first phase). */
  working?: boolean;
  /** Why the server builds no previews ("" or undefined when it does). */
  buildsOff?: string;
  /** Opens a file of the app at a line (an error's link); files lists the app's files (only those are linked). */
  onOpenFile?: (path: string, line?: number) => void;
  files?: readonly string[];
  /** An old version shown instead of the current build: built from that version's files, on an origin of its own; a banner says so. */
  oldVersion?: OldVersion;
}

/** OldVersion is the version previewed before a rollback, and what its banner offers. */
export interface OldVersion {
  number: number;
  /** When the version was made, as the page shows it. */
  when: string;
  /** Shows the current build again. */
  onBack: () => void;
  /** Rolls back to this version (the existing Rollback); absent for a reader or while the session works. */
  onRollback?: () => void;
  rolling?: boolean;
  /** Why the last rollback failed. */
  error?: string;
}

/** Device sizes the preview frame takes (width in CSS pixels; 0: the pane's full width). */
export const DEVICES = [
  { key: "phone", label: "Phone", width: 390 },
  { key: "tablet", label: "Tablet", width: 820 },
  { key: "desktop", label: "Desktop", width: 0 },
] as const;
export type Device = (typeof DEVICES)[number]["key"];

const DEVICE_KEY = "stich.preview.device";

/** savedDevice is the device size this browser last chose (desktop when none). */
export function savedDevice(storage: Pick<Storage, "getItem"> | undefined = typeof localStorage === "undefined" ? undefined : localStorage): Device {
  try {
    const v = storage?.getItem(DEVICE_KEY);
    if (DEVICES.some((d) => d.key === v)) return v as Device;
  } catch {
    // Storage refused (private mode): the default.
  }
  return "desktop";
}

function saveDevice(d: Device) {
  try {
    localStorage.setItem(DEVICE_KEY, d);
  } catch {
    // Not remembered; the choice still applies.
  }
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

/**
 * screenshotUrl is where the owner gets the screenshot of a session's build;
 * build busts the browser's cache. An <img> cannot send the CSRF header, so
 * the signed-in browser's token goes in the query (api.csrfToken), as a
 * download's does.
 */
export function screenshotUrl(sessionId: string, build?: number, csrf = ""): string {
  const q = new URLSearchParams();
  if (build) q.set("build", String(build));
  if (csrf) q.set("csrf", csrf);
  const qs = q.toString();
  return `/api/sessions/${encodeURIComponent(sessionId)}/screenshot.png${qs ? `?${qs}` : ""}`;
}

/** Codes of runtime problems that stop the app (shown in the overlay); console errors and failed requests are not. */
const fatalCodes = new Set(["error", "unhandledrejection", "blank"]);

/** UncaughtError is one runtime problem that broke the page: its text and, when it is in one of the app's files, where. */
export interface UncaughtError {
  text: string;
  file?: string;
  line?: number;
}

/**
 * uncaughtErrors lists the runtime problems that broke the page, at most 5,
 * each at most 500 characters; one whose place is a file of the app (files)
 * carries it, so the overlay links to the line.
 */
export function uncaughtErrors(runtime: readonly Diagnostic[] | undefined, files: readonly string[] = []): UncaughtError[] {
  const out: UncaughtError[] = [];
  for (const d of runtime ?? []) {
    if (!fatalCodes.has(d.code) || out.length >= 5) continue;
    const file = d.file.replace(/^\/+/, "");
    const known = file !== "" && files.includes(file);
    const where = d.file && !known ? ` (${d.file}${d.line ? `:${d.line}` : ""})` : "";
    const text = (d.code === "blank" ? "Nothing rendered: " : d.code === "unhandledrejection" ? "Unhandled rejection: " : "") + d.message + where;
    out.push({ text: text.length > 500 ? `${text.slice(0, 499)}…` : text, ...(known ? { file, line: d.line || undefined } : {}) });
  }
  return out;
}

/** PreviewPanel shows the running app once the server reports a preview URL: the build's screenshot until the live frame has loaded, and an overlay when the page hit an uncaught error. */
export function PreviewPanel({ sessionId, url: currentUrl, build, working, buildsOff, screenshot: currentShot, runtime, onOpenFile, files, oldVersion }: Props) {
  const [device, setDevice] = useState<Device>(() => savedDevice());
  const width = DEVICES.find((d) => d.key === device)?.width ?? 0;
  const [reloads, setReloads] = useState(0);
  // An old version: its own origin, and none of the current build's
  // screenshot or runtime errors; new builds of the current files do not
  // reload it.
  const versionNo = oldVersion?.number ?? 0;
  const url = oldVersion && currentUrl ? versionPreviewUrl(currentUrl, versionNo) : currentUrl;
  const screenshot = oldVersion ? undefined : currentShot;
  if (oldVersion) runtime = undefined;
  const frameKey = oldVersion ? `v${versionNo}-${reloads}` : `${build ?? 0}-${reloads}`;
  const [loadedKey, setLoadedKey] = useState("");
  const [shotFailed, setShotFailed] = useState("");
  const [dismissed, setDismissed] = useState("");
  // The frame opens a ticket URL (the preview's origin never sees this
  // page's cookie): a new ticket for each build and reload.
  const [entry, setEntry] = useState<{ key: string; src?: string; error?: string }>({ key: "" });
  const [tabError, setTabError] = useState("");
  const errors = uncaughtErrors(runtime, files);
  const errorsKey = `${build ?? 0}:${errors.map((e) => e.text).join("\n")}`;
  const p = url ? safePreview(url) : undefined;
  const previewHref = p?.url;
  const entryKey = `${sessionId}|${previewHref ?? ""}|${frameKey}`;
  useEffect(() => {
    if (!previewHref) return;
    let live = true;
    previewTicketUrl(sessionId, previewHref, versionNo).then(
      (src) => live && setEntry({ key: entryKey, src }),
      (err: unknown) => live && setEntry({ key: entryKey, error: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      live = false;
    };
  }, [sessionId, previewHref, entryKey, versionNo]);
  const src = entry.key === entryKey ? entry.src : undefined;
  const entryError = entry.key === entryKey ? entry.error : undefined;
  const openTab = async (ev: MouseEvent) => {
    ev.preventDefault();
    if (!previewHref) return;
    try {
      setTabError("");
      window.open(await previewTicketUrl(sessionId, previewHref, versionNo), "_blank", "noopener,noreferrer");
    } catch (err) {
      setTabError(err instanceof Error ? err.message : String(err));
    }
  };
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
      {oldVersion && (
        <div className="version-banner row wrap between pad-x" role="status" data-testid="version-banner" data-version={versionNo}>
          <span>
            <strong>
              Previewing version {versionNo}
              {oldVersion.when ? ` (from ${oldVersion.when})` : ""}
            </strong>{" "}
            <span className="muted small">built from that version&apos;s files; the current version is unchanged.</span>
          </span>
          <span className="row">
            {oldVersion.onRollback && (
              <button type="button" className="btn small primary" data-testid="version-rollback" disabled={oldVersion.rolling} onClick={oldVersion.onRollback}>
                {oldVersion.rolling ? "Rolling back…" : "Roll back to this version"}
              </button>
            )}
            <button type="button" className="btn small" data-testid="version-back" onClick={oldVersion.onBack}>
              Back to current
            </button>
          </span>
          {oldVersion.error && (
            <p className="small" role="alert">
              {oldVersion.error}
            </p>
          )}
        </div>
      )}
      <div className="row between pad-x">
        <div className="row">
          <button type="button" className="btn small" onClick={() => setReloads((n) => n + 1)} data-testid="preview-reload">
            Reload
          </button>
          <div className="row devices" role="group" aria-label="Preview size">
            {DEVICES.map((d) => (
              <button
                key={d.key}
                type="button"
                className={device === d.key ? "btn small active" : "btn small"}
                aria-pressed={device === d.key}
                data-testid={`device-${d.key}`}
                title={d.width ? `${d.label}: ${d.width} px wide` : `${d.label}: the pane's full width`}
                onClick={() => {
                  setDevice(d.key);
                  saveDevice(d.key);
                }}
              >
                {d.label}
              </button>
            ))}
          </div>
        </div>
        <a href={p.url} target="_blank" rel="noreferrer noopener" className="small" onClick={openTab} data-testid="preview-open-tab">
          Open in a new tab ↗
        </a>
      </div>
      {entryError || tabError ? (
        <p className="pad-x small" role="alert" data-testid="preview-ticket-error">
          The preview could not be opened: {entryError || tabError}. Press Reload to try again.
        </p>
      ) : null}
      <div className="preview-stage" data-device={device}>
        {src ? (
          <iframe
            key={frameKey}
            title="App preview"
            src={src}
            sandbox={p.sandbox}
            data-testid="preview-frame"
            data-width={width || "full"}
            ref={(el) => {
              // A property, not a style attribute: the page's CSP allows it.
              if (el) el.style.maxWidth = width ? `${width}px` : "";
            }}
            onLoad={() => setLoadedKey(frameKey)}
          />
        ) : null}
        {screenshot && loadedKey !== frameKey && shotFailed !== screenshot ? (
          <img className="preview-shot" src={screenshot} alt="Screenshot of the app while it loads" data-testid="preview-screenshot" onError={() => setShotFailed(screenshot)} />
        ) : null}
        {errors.length > 0 && dismissed !== errorsKey ? (
          <div className="preview-error" role="alert" data-testid="preview-error">
            <p>
              <strong>The app hit an error while running.</strong> {working ? "It goes to the fixing step." : "Open the line, or ask in the chat to debug it."}
            </p>
            <ul>
              {errors.map((e, i) => (
                <li key={i}>
                  <code>{e.text}</code>
                  {e.file && onOpenFile && (
                    <>
                      {" "}
                      <button type="button" className="link" data-testid="preview-error-link" data-file={e.file} data-line={e.line ?? 0} onClick={() => onOpenFile(e.file!, e.line)}>
                        {e.file}
                        {e.line ? `:${e.line}` : ""}
                      </button>
                    </>
                  )}
                </li>
              ))}
            </ul>
            <button type="button" className="btn small" onClick={() => setDismissed(errorsKey)}>
              Dismiss
            </button>
          </div>
        ) : null}
      </div>
    </div>
  );
}
