import { lazy, Suspense, useEffect, useState } from "react";
import { accounts, admin, onAuthChange } from "./api";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { HomePage } from "./pages/Home";
import { NotFoundPage } from "./pages/NotFound";
import { SessionPage } from "./pages/Session";
import { SignInPage } from "./pages/SignIn";

// The pages a new app and a session need load with the app; the others
// load when first opened, so the first load stays within its budget
// (scripts/size-budget.mjs).
const AppsPage = lazy(() => import("./pages/Apps").then((m) => ({ default: m.AppsPage })));
const GalleryPage = lazy(() => import("./pages/Gallery").then((m) => ({ default: m.GalleryPage })));
const ClusterPage = lazy(() => import("./pages/Cluster").then((m) => ({ default: m.ClusterPage })));
const SettingsPage = lazy(() => import("./pages/Settings").then((m) => ({ default: m.SettingsPage })));
const AccountPage = lazy(() => import("./pages/Account").then((m) => ({ default: m.AccountPage })));
const UsersPage = lazy(() => import("./pages/Users").then((m) => ({ default: m.UsersPage })));
const SignUpPage = lazy(() => import("./pages/SignUp").then((m) => ({ default: m.SignUpPage })));
const VerifyPage = lazy(() => import("./pages/SignUp").then((m) => ({ default: m.VerifyPage })));
const ResetPage = lazy(() => import("./pages/SignUp").then((m) => ({ default: m.ResetPage })));

function PageLoading() {
  return (
    <p className="muted pad" role="status">
      Loading the page…
    </p>
  );
}
import { Link, usePath } from "./router";
import { getTheme, setTheme } from "./theme";

function route(path: string) {
  if (path === "/" || path === "/index.html") return <HomePage />;
  const m = /^\/s\/([^/]+)\/?$/.exec(path);
  if (m) return <SessionPage id={decodeURIComponent(m[1])} />;
  if (path === "/apps") return <AppsPage />;
  if (path === "/gallery") return <GalleryPage />;
  if (path === "/cluster") return <ClusterPage />;
  if (path === "/settings") return <SettingsPage />;
  if (path === "/account") return <AccountPage />;
  if (path === "/users") return <UsersPage />;
  if (path === "/signin") return <SignInPage />;
  return <NotFoundPage path={path} />;
}

/** publicPage is the page of the paths a signed-out browser may open (sign-up and e-mailed links). */
function publicPage(path: string) {
  if (path === "/signup") return <SignUpPage />;
  if (path === "/verify") return <VerifyPage />;
  if (path === "/reset") return <ResetPage />;
  return null;
}

/** readablePage is the page of the paths a signed-out browser may read: the gallery and an app's page (a public or unlisted app reads; any other shows the sign-in page). */
function readablePage(path: string) {
  if (path === "/gallery") return <GalleryPage />;
  const m = /^\/s\/([^/]+)\/?$/.exec(path);
  if (m) return <SessionPage id={decodeURIComponent(m[1])} />;
  return null;
}

function ThemeToggle() {
  const [dark, setDark] = useState(() => document.documentElement.dataset.theme === "dark");
  useEffect(() => {
    const obs = new MutationObserver(() => setDark(document.documentElement.dataset.theme === "dark"));
    obs.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    return () => obs.disconnect();
  }, []);
  return (
    <button
      type="button"
      className="btn small ghost"
      aria-label={dark ? "Switch to the light theme" : "Switch to the dark theme"}
      title={getTheme() === "system" ? "Theme follows the system; click to choose" : "Toggle theme"}
      onClick={() => setTheme(dark ? "light" : "dark")}
    >
      {dark ? "☀ light" : "☾ dark"}
    </button>
  );
}

/** useSignedOut follows the server's answer to whether this browser is signed in. */
function useSignedOut(): boolean {
  const [out, setOut] = useState(false);
  useEffect(() => onAuthChange(setOut), []);
  useEffect(() => {
    // Any call tells; a page that makes none (Settings) still learns at once.
    admin.getServerInfo({}).catch(() => {});
  }, []);
  return out;
}

/** useIsAdmin says whether the signed-in account is an admin (the Users page's link shows only then; the server decides anyway). */
function useIsAdmin(signedOut: boolean): boolean {
  const [admin, setAdmin] = useState(false);
  useEffect(() => {
    if (signedOut) {
      setAdmin(false);
      return;
    }
    let live = true;
    accounts
      .getAccount({})
      .then((r) => live && setAdmin(r.account?.role === "admin"))
      .catch(() => live && setAdmin(false));
    return () => {
      live = false;
    };
  }, [signedOut]);
  return admin;
}

export function App() {
  const path = usePath();
  const signedOut = useSignedOut();
  const isAdmin = useIsAdmin(signedOut);
  const nav = [
    { href: "/", label: "New app" },
    { href: "/apps", label: "Apps" },
    { href: "/gallery", label: "Gallery" },
    { href: "/cluster", label: "Cluster" },
    { href: "/settings", label: "Settings" },
    { href: "/account", label: "Account" },
    ...(isAdmin ? [{ href: "/users", label: "Users" }] : []),
  ];
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/" className="brand" aria-label="stich home">
          stich
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={path === n.href ? "page" : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        {signedOut && (
          <Link href="/signin" className="btn small" data-testid="topbar-sign-in">
            Sign in
          </Link>
        )}
        <ThemeToggle />
      </header>
      <main id="main" tabIndex={-1}>
        <ErrorBoundary resetKey={path}>
          <Suspense fallback={<PageLoading />}>{publicPage(path) ?? (signedOut ? (readablePage(path) ?? <SignInPage />) : route(path))}</Suspense>
        </ErrorBoundary>
      </main>
    </>
  );
}
