import { useCallback, useEffect, useState, type FormEvent } from "react";
import { accounts, describe, type Problem } from "../api";
import { ProblemBox } from "../components/ProblemBox";
import type { ListModelKeysResponse } from "../gen/stich/v1/account_pb";
import { budgetText } from "./forms";

/**
 * ModelKeysSection lets the caller store their own OpenAI-compatible model
 * key (sealed at rest on the server; only its last 4 characters come back),
 * clear it, and see today's model budget.
 */
export function ModelKeysSection() {
  const [list, setList] = useState<ListModelKeysResponse | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [baseUrl, setBaseUrl] = useState("https://api.openai.com/v1");
  const [apiKey, setApiKey] = useState("");
  const [model, setModel] = useState("");

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
      await accounts.setModelKey({ baseUrl: baseUrl.trim(), apiKey: apiKey.trim(), model: model.trim() });
      setApiKey("");
    });
  }

  const keys = list?.keys ?? [];
  return (
    <section aria-label="Model keys">
      <h2>Model keys</h2>
      <p className="muted">
        Use your own OpenAI-compatible endpoint: your apps are then written with it, and the server's daily model budget
        does not apply. The key is stored encrypted and never shown again (only its last 4 characters).
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
              <th>Endpoint</th>
              <th>Model</th>
              <th>Key</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.baseUrl + k.model} data-testid="model-key">
                <td>
                  <code>{k.baseUrl}</code>
                </td>
                <td>{k.model}</td>
                <td>
                  <code>{k.keyHint}</code>
                </td>
                <td>
                  <button type="button" className="btn small danger-ghost" onClick={() => act("remove the model key", () => accounts.clearModelKey({}))}>
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
        <button type="submit" className="btn">
          {keys.length > 0 ? "Replace the model key" : "Save the model key"}
        </button>
      </form>
    </section>
  );
}
