import { useEffect, useState } from "react";
import { fetchSignInOptions, type SignInOptions } from "../signin";

/** SignInPage is shown instead of any page while the server says this browser is not signed in. */
export function SignInPage() {
  const [opts, setOpts] = useState<SignInOptions | null>(null);
  useEffect(() => {
    const ctl = new AbortController();
    fetchSignInOptions(ctl.signal).then(setOpts);
    return () => ctl.abort();
  }, []);
  const providers = opts?.providers ?? [];
  return (
    <div className="page narrow">
      <div className="problem" role="alert" data-testid="sign-in">
        <h1>Sign in to stich</h1>
        {providers.length > 0 && (
          <div className="sign-in-providers" data-testid="sign-in-providers">
            {providers.map((p) => (
              <a key={p.name} className="btn primary" href={p.start} data-testid={`sign-in-${p.name}`}>
                Sign in with {p.label}
              </a>
            ))}
            <p>
              {opts?.signUp
                ? "The first sign-in makes your account, with the e-mail the provider has verified."
                : "Only the owner of this node can sign in this way (with the owner's e-mail)."}
            </p>
          </div>
        )}
        <p>
          {providers.length > 0 ? "The node's owner can also use the sign-in link " : "This browser is not signed in. When "}
          {providers.length > 0 ? (
            <>
              <code>stich serve</code> prints when it starts (it works once).
            </>
          ) : (
            <>
              <code>stich serve</code> starts it prints a sign-in link (it works once); open it here to continue.
            </>
          )}
        </p>
        <p>
          Lost it? On the node's machine, <code>stich signin-link</code> prints a new one (the CLI signs in with the
          owner key the node saved in your config folder).
        </p>
      </div>
    </div>
  );
}
