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
