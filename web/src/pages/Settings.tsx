import { useEffect, useState } from "react";
import { ProblemBox } from "../components/ProblemBox";
import type { GetServerInfoResponse } from "../gen/stich/v1/admin_pb";
import { forgetAll, listRecent } from "../recent";
import { providerNote, useServerInfo } from "../serverinfo";
import { getTheme, setTheme, type ThemeChoice } from "../theme";

export function SettingsPage() {
  const [theme, setChoice] = useState<ThemeChoice>(getTheme);
  const { info, problem, retry } = useServerInfo();
  const [recent, setRecent] = useState(() => listRecent().length);

  useEffect(() => {
    document.title = "Settings · stich";
  }, []);

  return (
    <div className="page narrow settings">
      <h1>Settings</h1>
      {problem && <ProblemBox problem={problem} onRetry={retry} />}
      {!info && !problem && (
        <p className="muted" role="status">
          Loading…
        </p>
      )}
      {info && <ModelSettings info={info} />}
      <section>
        <h2>Server</h2>
        {info ? (
          <p>
            {info.node ? (
              <>
                Node <strong>{info.node}</strong>
              </>
            ) : (
              "This server"
            )}
            {info.region ? (
              <>
                {" "}
                in region <strong>{info.region}</strong>
              </>
            ) : null}
            , version <code>{info.version || "unknown"}</code>, at <code>{window.location.origin}</code>.
          </p>
        ) : (
          <p className="muted">{problem ? "Unknown: the server did not answer." : "Loading…"}</p>
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

/** ModelSettings lists the server's code providers, model endpoints and per-action models (read-only). */
function ModelSettings({ info }: { info: GetServerInfoResponse }) {
  return (
    <section aria-labelledby="models-h" data-testid="model-settings">
      <h2 id="models-h">Providers and models</h2>
      <p>
        New apps are written by <span className="badge provider" data-testid="default-provider">{info.defaultProviderLabel}</span>: {providerNote(info.defaultProviderLabel)}
        {info.defaultModel ? (
          <>
            {" "}
            (model <code>{info.defaultModel}</code>)
          </>
        ) : null}
        .
      </p>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Code providers</caption>
          <thead>
            <tr>
              <th scope="col">Provider</th>
              <th scope="col">Label</th>
              <th scope="col">Default</th>
            </tr>
          </thead>
          <tbody>
            {info.providers.map((p) => (
              <tr key={p.name} data-provider={p.name}>
                <td>
                  <code>{p.name}</code>
                </td>
                <td>{p.label}</td>
                <td>{p.isDefault ? <span className="badge ok">default</span> : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {info.endpoints.length === 0 ? (
        <p className="muted small" data-testid="no-model">
          No model is configured, so the built-in scaffold writes every app. Configure a model where the server starts (
          <code>stich serve --provider … --model …</code>, <code>--llm-config</code> for per-action models, or the <code>STICH_LLM_*</code> variables);
          this page shows what is configured and cannot change it.
        </p>
      ) : (
        <>
          <h3>Model endpoints</h3>
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Model endpoints</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Base URL</th>
                  <th scope="col">Default model</th>
                  <th scope="col">API key</th>
                </tr>
              </thead>
              <tbody>
                {info.endpoints.map((e) => (
                  <tr key={e.name}>
                    <td>
                      {e.name} {e.isDefault && <span className="badge ok">default</span>}
                    </td>
                    <td>{e.kind}</td>
                    <td>
                      <code>{e.baseUrl || "–"}</code>
                    </td>
                    <td>
                      <code>{e.defaultModel || "–"}</code>
                    </td>
                    <td>{e.apiKey}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h3>Per-action models</h3>
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Per-action models</caption>
              <thead>
                <tr>
                  <th scope="col">Action</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Model</th>
                  <th scope="col">Fallback</th>
                  <th scope="col" className="num">
                    Max tokens
                  </th>
                  <th scope="col">Effort</th>
                </tr>
              </thead>
              <tbody>
                {info.actions.map((a) => (
                  <tr key={a.action} data-action={a.action}>
                    <td>{a.action.replaceAll("_", " ")}</td>
                    <td>{a.provider}</td>
                    <td>
                      <code>{a.model}</code>
                    </td>
                    <td>{a.fallback || "–"}</td>
                    <td className="num">{a.maxTokens || "–"}</td>
                    <td>{a.reasoningEffort || "–"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
