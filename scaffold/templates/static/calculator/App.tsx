import { useState } from "react";
import { config } from "./config";
import { evaluate, formulas, show } from "./logic";
import { Shell } from "./components/Shell";
import { listOf, record, text, usePersisted } from "./persist";

interface Line {
  expression: string;
  result: string;
}

const parseHistory = listOf((raw: unknown): Line | null => {
  const r = record(raw);
  const expression = text(r?.expression);
  const result = text(r?.result);
  return expression !== null && result !== null ? { expression, result } : null;
});

const KEYS = ["C", "(", ")", "÷", "7", "8", "9", "×", "4", "5", "6", "-", "1", "2", "3", "+", "0", ".", "⌫", "="];

function Keypad() {
  const [expression, setExpression] = useState("");
  const [result, setResult] = useState("0");
  const [error, setError] = useState("");
  const [history, setHistory] = usePersisted<Line[]>(config.storageKey + ":history", [], parseHistory);

  function press(key: string) {
    setError("");
    if (key === "C") {
      setExpression("");
      setResult("0");
    } else if (key === "⌫") {
      setExpression((e) => e.slice(0, -1));
    } else if (key === "=") {
      if (expression.trim() === "") return;
      try {
        const value = show(evaluate(expression));
        setResult(value);
        setHistory((h) => [{ expression, result: value }, ...h].slice(0, 30));
        setExpression(value);
      } catch (e) {
        setError(e instanceof Error ? e.message : "Invalid expression");
      }
    } else {
      setExpression((e) => e + key);
    }
  }

  return (
    <div className="calc-layout">
      <section className="panel calc" aria-label="Calculator">
        <input
          className="calc-expression"
          aria-label="Expression"
          value={expression}
          onChange={(e) => setExpression(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") press("=");
          }}
          placeholder="0"
        />
        <output className="calc-result" data-testid="result" aria-live="polite">
          {error || result}
        </output>
        <div className="calc-keys">
          {KEYS.map((k) => (
            <button
              key={k}
              type="button"
              className={k === "=" ? "btn btn-primary calc-key" : "btn calc-key"}
              aria-label={k === "⌫" ? "Backspace" : k === "C" ? "Clear" : k}
              onClick={() => press(k)}
            >
              {k}
            </button>
          ))}
        </div>
      </section>
      <section className="panel" aria-label="History">
        <h2 className="panel-title">History</h2>
        {history.length === 0 ? (
          <p className="muted">Your calculations appear here.</p>
        ) : (
          <ul className="plain-list">
            {history.map((h, i) => (
              <li key={i}>
                <button type="button" className="btn-link" onClick={() => setExpression(h.expression)}>
                  {h.expression} = <strong>{h.result}</strong>
                </button>
              </li>
            ))}
          </ul>
        )}
        {history.length > 0 && (
          <button type="button" className="btn btn-small" onClick={() => setHistory([])}>
            Clear history
          </button>
        )}
      </section>
    </div>
  );
}

function FormulaCalculator({ variant }: { variant: keyof typeof formulas }) {
  const formula = formulas[variant];
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(formula.inputs.map((i) => [i.key, String(i.value)])),
  );
  const numbers: Record<string, number> = {};
  let valid = true;
  for (const input of formula.inputs) {
    const n = Number(values[input.key]);
    valid = valid && values[input.key]?.trim() !== "" && Number.isFinite(n) && n >= 0;
    numbers[input.key] = n;
  }
  return (
    <section className="panel calc" aria-label="Calculator">
      <div className="formula-inputs">
        {formula.inputs.map((input) => (
          <label key={input.key} className="field">
            <span>{input.label}</span>
            <input
              inputMode="decimal"
              name={input.key}
              value={values[input.key] ?? ""}
              onChange={(e) => setValues((v) => ({ ...v, [input.key]: e.target.value }))}
            />
          </label>
        ))}
      </div>
      {valid ? (
        <dl className="formula-results" data-testid="result">
          {formula.compute(numbers).map((r) => (
            <div key={r.label}>
              <dt>{r.label}</dt>
              <dd>{r.value}</dd>
            </div>
          ))}
        </dl>
      ) : (
        <p className="field-error">Enter a number of zero or more in every box.</p>
      )}
    </section>
  );
}

export default function App() {
  return (
    <Shell title={config.title} subtitle={config.subtitle}>
      {config.variant === "arithmetic" ? <Keypad /> : <FormulaCalculator variant={config.variant} />}
    </Shell>
  );
}
