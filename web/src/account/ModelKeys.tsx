import { useCallback, useEffect, useState, type FormEvent } from "react";
import { accounts, describe, type Problem } from "../api";
import { ProblemBox } from "../components/ProblemBox";
import type { ListModelKeysResponse } from "../gen/stich/v1/account_pb";
import { budgetText } from "./forms";

/**
 * ModelKeysSection lets the caller store their own OpenAI-compatible model
 * keys (several, each with a label; sealed at rest on the server, only their
 * last 4 characters come back), pick the default one their apps are written
 * with, remove one, and see today's model budget.
 */
export function ModelKeysSection() {
  const [list, setList] = useState<ListModelKeysResponse | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [baseUrl, setBaseUrl] = useState("https://api.openai.com/v1");
  const [apiKey, setApiKey] = useState("");
  const [model, setModel] = useState("");
  const [label, setLabel] = useState("");
  const [makeDefault, setMakeDefault] = useState(false);

  const load = useCallback(async () => {
    try {
      setList(await accounts.listModelKeys({}));
      setProblem(null);
    } catch (err) {
      setProblem(describe(err, "load your model keys"));
    }
  }, []);
  useEffect(() => {
    load();
  }, [load]);

  async function act(what: string, f: () => Promise<unknown>) {
    setProblem(null);
    try {
      await f();
      await load();
    } catch (err) {
      setProblem(describe(err, what));
    }
  }
  async function save(e: FormEvent) {
    e.preventDefault();
    await act("save the model key", async () => {
      await accounts.setModelKey({ baseUrl: baseUrl.trim(), apiKey: apiKey.trim(), model: model.trim(), label: label.trim(), makeDefault });
      setApiKey("");
      setLabel("");
      setMakeDefault(false);
    });
  }

  const keys = list?.keys ?? [];
  return (
    <section aria-label="Model keys">
      <h2>Model keys</h2>
      <p className="muted">
        Use your own OpenAI-compatible endpoints: your apps are then written with your default key, and the server's daily
        model budget does not apply. Keys are stored encrypted and never shown again (only their last 4 characters).
      </p>
      {problem && <ProblemBox problem={problem} onRetry={load} />}
      {list?.budget && (
        <p data-testid="model-budget" className="muted">
          {budgetText(list.budget)}
        </p>
      )}
      {keys.length > 0 && (
        <table className="credentials">
          <thead>
            <tr>
              <th>Label</th>
              <th>Endpoint</th>
              <th>Model</th>
              <th>Key</th>
              <th>Default</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id || k.baseUrl + k.model} data-testid="model-key" data-default={k.isDefault ? "true" : "false"}>
                <td>{k.label || <span className="muted">none</span>}</td>
                <td>
                  <code>{k.baseUrl}</code>
                </td>
                <td>{k.model}</td>
                <td>
                  <code>{k.keyHint}</code>
                </td>
                <td>
                  {k.isDefault ? (
                    <span className="badge" data-testid="model-key-default">
                      default
                    </span>
                  ) : (
                    <button type="button" className="btn small ghost" data-testid="model-key-make-default" onClick={() => act("make the key the default", () => accounts.setDefaultModelKey({ id: k.id }))}>
                      Make default
                    </button>
                  )}
                </td>
                <td>
                  <button
                    type="button"
                    className="btn small danger-ghost"
                    data-testid="model-key-remove"
                    onClick={() => act("remove the model key", () => accounts.clearModelKey({ id: k.id }))}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="account-form" onSubmit={save} aria-label="Model key">
        <label>
          Base URL
          <input type="url" required value={baseUrl} maxLength={500} onChange={(e) => setBaseUrl(e.target.value)} />
        </label>
        <label>
          API key
          <input type="password" required autoComplete="off" minLength={8} maxLength={500} value={apiKey} onChange={(e) => setApiKey(e.target.value)} />
        </label>
        <label>
          Model
          <input type="text" required value={model} maxLength={200} onChange={(e) => setModel(e.target.value)} placeholder="gpt-4.1-mini" />
        </label>
        <label>
          Label
          <input type="text" value={label} maxLength={100} onChange={(e) => setLabel(e.target.value)} placeholder="work OpenAI" />
        </label>
        {keys.length > 0 && (
          <label className="check">
            <input type="checkbox" checked={makeDefault} onChange={(e) => setMakeDefault(e.target.checked)} /> Make it the default
          </label>
        )}
        <button type="submit" className="btn">
          {keys.length > 0 ? "Add the model key" : "Save the model key"}
        </button>
      </form>
    </section>
  );
}
