/** SignInProvider is one "Sign in with …" button: an outside identity provider the server has on. */
export interface SignInProvider {
  name: string;
  label: string;
  /** start is the same-origin path the button opens (/auth/oauth/NAME/start). */
  start: string;
}

/** SignInOptions is what GET /auth/providers says. */
export interface SignInOptions {
  providers: SignInProvider[];
  /** signUp is true when signing in through a provider makes an account (--auth multi). */
  signUp: boolean;
}

/**
 * parseSignInOptions checks the server's answer: only providers whose start path is this server's
 * own /auth/oauth/NAME/start are kept (a button never leads off the origin by itself).
 */
export function parseSignInOptions(v: unknown): SignInOptions {
  const out: SignInOptions = { providers: [], signUp: false };
  if (typeof v !== "object" || v === null) return out;
  const o = v as { providers?: unknown; signUp?: unknown };
  out.signUp = o.signUp === true;
  if (!Array.isArray(o.providers)) return out;
  for (const p of o.providers) {
    if (typeof p !== "object" || p === null) continue;
    const { name, label, start } = p as Record<string, unknown>;
    if (typeof name !== "string" || !/^[a-z0-9][a-z0-9-]{0,31}$/.test(name)) continue;
    if (start !== `/auth/oauth/${name}/start`) continue;
    out.providers.push({ name, label: typeof label === "string" && label !== "" ? label : name, start });
  }
  return out;
}

/** fetchSignInOptions asks the server which providers are on (none when it cannot say). */
export async function fetchSignInOptions(signal?: AbortSignal): Promise<SignInOptions> {
  try {
    const res = await fetch("/auth/providers", { signal, credentials: "same-origin" });
    if (!res.ok) return { providers: [], signUp: false };
    return parseSignInOptions(await res.json());
  } catch {
    return { providers: [], signUp: false };
  }
}

/**
 * safeReturnPath keeps a return path after sign-in on this origin (no open redirect), as the server's
 * safeNext does: a relative path starting with one "/" and holding no backslash or control character
 * ("/\evil" is "//evil" to browsers), else "/".
 */
export function safeReturnPath(next: string | null | undefined): string {
  if (!next || next.length > 2048 || next[0] !== "/" || next.startsWith("//")) return "/";
  if (/[\\\u0000-\u001f\u007f]/.test(next)) return "/";
  try {
    const u = new URL(next, "http://origin.invalid");
    if (u.origin !== "http://origin.invalid") return "/";
  } catch {
    return "/";
  }
  return next;
}

/** returnPathOf is the validated ?next= of a sign-in page's query string. */
export function returnPathOf(search: string): string {
  return safeReturnPath(new URLSearchParams(search).get("next"));
}

/** signInHref is the sign-in page that returns to path afterwards. */
export function signInHref(path: string): string {
  const next = safeReturnPath(path);
  return next === "/" ? "/signin" : `/signin?next=${encodeURIComponent(next)}`;
}

/** withReturn adds the return path to a provider's start path (the server checks it again). */
export function withReturn(start: string, next: string): string {
  const safe = safeReturnPath(next);
  return safe === "/" ? start : `${start}?next=${encodeURIComponent(safe)}`;
}
