// The only way the UI talks to stich: Connect clients generated from proto/
// (protoc-gen-es, src/gen) over connect-web's fetch transport, same origin.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { SessionService } from "./gen/stich/v1/session_pb";
import { AdminService } from "./gen/stich/v1/admin_pb";
import { AccountService } from "./gen/stich/v1/account_pb";

/** origin is where the UI (and so the API) is served from. */
export function origin(): string {
  return typeof window === "undefined" ? "http://localhost" : window.location.origin;
}

/** csrfToken is the CSRF token of the browser session (a cookie only this origin's pages can read), or "". */
export function csrfToken(): string {
  if (typeof document === "undefined") return "";
  const m = /(?:^|;\s*)stich_csrf=([^;]*)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]) : "";
}

type AuthListener = (signedOut: boolean) => void;
const authListeners = new Set<AuthListener>();
let signedOut = false;

/** onAuthChange calls listener whenever the server says the browser is not (or again) signed in. */
export function onAuthChange(listener: AuthListener): () => void {
  authListeners.add(listener);
  listener(signedOut);
  return () => authListeners.delete(listener);
}

function setSignedOut(v: boolean) {
  if (v === signedOut) return;
  signedOut = v;
  for (const l of authListeners) l(v);
}

/** isSignedOut says whether the server last said this browser is not signed in. */
export function isSignedOut(): boolean {
  return signedOut;
}

/**
 * ANONYMOUS_OK are the methods the server answers without an account (the gallery, reading a public or unlisted
 * app, signing up and in): their success says nothing about being signed in.
 */
export const ANONYMOUS_OK: ReadonlySet<string> = new Set([
  "ListGallery",
  "GetSession",
  "Watch",
  "ListFiles",
  "GetFile",
  "ListVersions",
  "DiffVersions",
  "SignUp",
  "SignIn",
  "VerifyEmail",
  "RequestPasswordReset",
  "ResetPassword",
]);

/** withCredentials sends the CSRF token with every call and notices when the server asks to sign in. */
const withCredentials: Interceptor = (next) => async (req) => {
  const token = csrfToken();
  if (token) req.header.set("X-CSRF-Token", token);
  try {
    const res = await next(req);
    if (!ANONYMOUS_OK.has(req.method.name)) setSignedOut(false);
    return res;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.Unauthenticated) setSignedOut(true);
    throw err;
  }
};

const transport = createConnectTransport({
  baseUrl: origin(),
  interceptors: [withCredentials],
  // JSON keeps requests readable in the browser's network panel; events are
  // small and the server compresses only bodies over 1 KiB.
  useBinaryFormat: false,
});

export const sessions: Client<typeof SessionService> = createClient(SessionService, transport);
export const admin: Client<typeof AdminService> = createClient(AdminService, transport);
export const accounts: Client<typeof AccountService> = createClient(AccountService, transport);

/** markSignedIn tells the UI the browser has just signed in (it shows the app again). */
export function markSignedIn() {
  setSignedOut(false);
}

/** Problem is an API failure explained for a person: what happened, and what to do. */
export interface Problem {
  /** Connect code name, e.g. "not_found", or "network" when the server could not be reached. */
  code: string;
  title: string;
  detail: string;
  /** Whether trying again may help. */
  retryable: boolean;
}

const codeNames: Record<number, string> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

/** isNetworkError reports whether err means the request never reached a stich server (or the connection broke). */
export function isNetworkError(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return err instanceof TypeError;
  if (err.code !== Code.Unknown && err.code !== Code.Unavailable && err.code !== Code.Internal) return false;
  // connect-web wraps fetch's TypeError ("Failed to fetch", "network error")
  // as the cause; a Connect error sent by the server has none.
  return err.cause instanceof TypeError || /failed to fetch|network ?error|load failed|input stream/i.test(err.rawMessage);
}

/** describe turns any error from a call into a [Problem]. */
export function describe(err: unknown, action: string): Problem {
  if (isNetworkError(err)) {
    return {
      code: "network",
      title: `Could not reach the stich server while trying to ${action}`,
      detail: `Nothing answered at ${origin()}. Check that stich serve is running and reachable, then retry.`,
      retryable: true,
    };
  }
  if (err instanceof ConnectError) {
    const code = codeNames[err.code] ?? "unknown";
    const message = err.rawMessage || "no details";
    switch (err.code) {
      case Code.NotFound:
        return { code, title: "Not found", detail: message, retryable: false };
      case Code.InvalidArgument:
      case Code.OutOfRange:
        return { code, title: `The server refused to ${action}`, detail: message, retryable: false };
      case Code.ResourceExhausted:
        return { code, title: "Too many requests", detail: message, retryable: true };
      case Code.Unavailable:
      case Code.DeadlineExceeded:
        return { code, title: `The server could not ${action} right now`, detail: message, retryable: true };
      case Code.Unauthenticated:
        return { code, title: "Sign in required", detail: "Open the sign-in link that stich serve printed when it started.", retryable: false };
      case Code.Canceled:
        return { code, title: "Cancelled", detail: message, retryable: true };
      default:
        return { code, title: `Could not ${action}`, detail: `${message} (${code})`, retryable: true };
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: "unknown", title: `Could not ${action}`, detail: message, retryable: true };
}

/** SESSION_ID matches the API's session id rule (session.proto). */
export const SESSION_ID = /^s-[a-z0-9]{8,40}([.][a-z0-9-]{1,32})?$/;

/**
 * previewTicketPath is the route that gives a signed-in reader of a session a
 * short-lived ticket to its preview, or (version > 0) to the preview of that
 * version of the app (built from its own files, on an origin of its own).
 */
export function previewTicketPath(sessionId: string, version = 0): string {
  const v = version > 0 ? `/versions/${version}` : "";
  return `/api/sessions/${encodeURIComponent(sessionId)}${v}/preview-ticket`;
}

/**
 * versionPreviewUrl is the preview URL of version n of an app whose current
 * preview is at previewUrl: the same preview domain, host label "vN-" + the
 * app's (preview.Origins.VersionOrigin). undefined when previewUrl is not a URL.
 */
export function versionPreviewUrl(previewUrl: string, n: number): string | undefined {
  try {
    const u = new URL(previewUrl, origin());
    u.hostname = `v${n}-${u.hostname}`;
    u.pathname = "/";
    u.search = "";
    u.hash = "";
    return u.href;
  } catch {
    return undefined;
  }
}

/**
 * checkedTicketUrl accepts the server's ticket URL only on the preview's own
 * origin (previewUrl's), at the enter path; anything else is refused.
 */
export function checkedTicketUrl(raw: unknown, previewUrl: string): string | undefined {
  if (typeof raw !== "string") return undefined;
  try {
    const u = new URL(raw);
    const p = new URL(previewUrl, origin());
    if (u.origin !== p.origin || u.pathname !== "/__stich/enter" || !u.searchParams.get("ticket")) return undefined;
    return u.href;
  } catch {
    return undefined;
  }
}

/**
 * previewTicketUrl asks the API for a ticket to a session's preview: the
 * preview is served on an origin of its own, which never sees this page's
 * cookie, so the frame opens the returned URL, which sets that origin's
 * own cookie and then shows the app. A ticket lasts 2 minutes: ask for a
 * new one each time the preview is opened.
 */
export async function previewTicketUrl(sessionId: string, previewUrl: string, version = 0): Promise<string> {
  const headers: Record<string, string> = {};
  const token = csrfToken();
  if (token) headers["X-CSRF-Token"] = token;
  const res = await fetch(previewTicketPath(sessionId, version), { method: "POST", headers, credentials: "same-origin" });
  if (res.status === 401) setSignedOut(true);
  if (!res.ok) throw new Error(`the server answered ${res.status}: ${(await res.text()).trim() || res.statusText}`);
  const url = checkedTicketUrl(((await res.json()) as { url?: unknown }).url, previewUrl);
  if (!url) throw new Error("the server's preview ticket is not for this app's preview origin");
  return url;
}
