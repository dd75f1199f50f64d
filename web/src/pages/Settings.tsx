import { useEffect, useState } from "react";
import { admin, describe, type Problem } from "../api";
import { ProblemBox } from "../components/ProblemBox";
import { forgetAll, lastProvider, listRecent } from "../recent";
import { getTheme, setTheme, type ThemeChoice } from "../theme";

export function SettingsPage() {
  const [theme, setChoice] = useState<ThemeChoice>(getTheme);
  const [server, setServer] = useState<{ node: string; version: string }>();
  const [problem, setProblem] = useState<Problem>();
  const [recent, setRecent] = useState(() => listRecent().length);
  const provider = lastProvider();

  useEffect(() => {
    document.title = "Settings · stich";
    admin
      .getClusterStatus({})
      .then((r) => setServer({ node: r.node, version: r.members.find((m) => m.name === r.node)?.version ?? "" }))
      .catch((err) => setProblem(describe(err, "ask the server about itself")));
  }, []);

  return (
    <div className="page narrow settings">
      <h1>Settings</h1>
      <section>
        <h2>Provider</h2>
        {provider ? (
          <p>
            New apps are written by <span className="badge provider">{provider}</span>
            {provider.includes("no model") ? ": the built-in scaffold generator. It is deterministic and works offline; no AI model is involved." : "."}
          </p>
        ) : (
          <p className="muted">The server reports its provider when you start an app; none started in this browser yet.</p>
        )}
        <p className="muted small">
          Providers are configured where the server starts (<code>stich serve --provider …</code>, or the <code>STICH_LLM_*</code> variables); this page
          cannot change them yet.
        </p>
      </section>
      <section>
        <h2>Server</h2>
        {problem ? (
          <ProblemBox problem={problem} />
        ) : server ? (
          <p>
            Node <strong>{server.node}</strong>, version <code>{server.version || "unknown"}</code>, at <code>{window.location.origin}</code>.
          </p>
        ) : (
          <p className="muted">Loading…</p>
        )}
      </section>
      <section>
        <h2>Appearance</h2>
        <fieldset className="radios">
          <legend>Theme</legend>
          {(["system", "light", "dark"] as const).map((t) => (
            <label key={t} className="check">
              <input
                type="radio"
                name="theme"
                value={t}
                checked={theme === t}
                onChange={() => {
                  setChoice(t);
                  setTheme(t);
                }}
              />{" "}
              {t === "system" ? "follow the system" : t}
            </label>
          ))}
        </fieldset>
      </section>
      <section>
        <h2>This browser</h2>
        <p>
          {recent} recent session{recent === 1 ? "" : "s"} remembered here (the sessions themselves live on the server).
        </p>
        <button
          type="button"
          className="btn"
          disabled={recent === 0}
          onClick={() => {
            forgetAll();
            setRecent(0);
          }}
        >
          Forget recent sessions
        </button>
      </section>
    </div>
  );
}
