import { Link } from "../router";

export function NotFoundPage({ path }: { path: string }) {
  return (
    <div className="page narrow">
      <div className="problem" role="alert">
        <h1>No such page</h1>
        <p>
          Nothing lives at <code>{path}</code>. Sessions are at <code>/s/&lt;session id&gt;</code>.
        </p>
        <Link className="btn primary" href="/">
          Home
        </Link>
      </div>
    </div>
  );
}
