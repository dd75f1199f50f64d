/** SignInPage is shown instead of any page while the server says this browser is not signed in. */
export function SignInPage() {
  return (
    <div className="page narrow">
      <div className="problem" role="alert" data-testid="sign-in">
        <h1>Sign in to stich</h1>
        <p>
          This browser is not signed in. When <code>stich serve</code> starts it prints a sign-in link (it works
          once); open it here to continue.
        </p>
        <p>
          Lost it? On the node's machine, <code>stich signin-link</code> prints a new one (the CLI signs in with the
          owner key the node saved in your config folder).
        </p>
      </div>
    </div>
  );
}
