import { config } from "./config";
import { categories, convert, show } from "./logic";
import { Shell } from "./components/Shell";
import { record, text, usePersisted } from "./persist";

interface Choice {
  category: string;
  from: string;
  to: string;
  value: string;
}

const offered = categories.filter((c) => config.categories.includes(c.id)).sort(
  (a, b) => config.categories.indexOf(a.id) - config.categories.indexOf(b.id),
);
const shown = offered.length > 0 ? offered : categories;

function initial(categoryId: string): Choice {
  const c = shown.find((x) => x.id === categoryId) ?? shown[0];
  return { category: c.id, from: c.units[0].id, to: c.units[1].id, value: "1" };
}

function parseChoice(raw: unknown): Choice | null {
  const r = record(raw);
  const category = text(r?.category);
  const from = text(r?.from);
  const to = text(r?.to);
  const value = text(r?.value);
  const c = shown.find((x) => x.id === category);
  if (!c || from === null || to === null || value === null) return null;
  if (!c.units.some((x) => x.id === from) || !c.units.some((x) => x.id === to)) return null;
  return { category: c.id, from, to, value };
}

export default function App() {
  const [choice, setChoice] = usePersisted<Choice>(config.storageKey + ":last", initial(shown[0].id), parseChoice);
  const category = shown.find((c) => c.id === choice.category) ?? shown[0];
  const value = Number(choice.value);
  const valid = choice.value.trim() !== "" && Number.isFinite(value);
  const result = valid ? show(convert(category, value, choice.from, choice.to)) : "—";
  const unitLabel = (id: string) => category.units.find((x) => x.id === id)?.label ?? id;

  return (
    <Shell title={config.title} subtitle={config.subtitle}>
      {shown.length > 1 && (
        <nav className="tabs" aria-label="Categories">
          {shown.map((c) => (
            <button
              key={c.id}
              type="button"
              className="tab"
              aria-pressed={c.id === category.id}
              onClick={() => setChoice(initial(c.id))}
            >
              {c.label}
            </button>
          ))}
        </nav>
      )}
      <section className="panel converter" aria-label={`${category.label} converter`}>
        <div className="converter-row">
          <label className="field">
            <span>Value</span>
            <input
              name="value"
              inputMode="decimal"
              value={choice.value}
              onChange={(e) => setChoice({ ...choice, value: e.target.value })}
            />
          </label>
          <label className="field">
            <span>From</span>
            <select name="from" value={choice.from} onChange={(e) => setChoice({ ...choice, from: e.target.value })}>
              {category.units.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.label}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            className="btn swap"
            aria-label="Swap units"
            onClick={() => setChoice({ ...choice, from: choice.to, to: choice.from })}
          >
            ⇄
          </button>
          <label className="field">
            <span>To</span>
            <select name="to" value={choice.to} onChange={(e) => setChoice({ ...choice, to: e.target.value })}>
              {category.units.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.label}
                </option>
              ))}
            </select>
          </label>
        </div>
        <p className="converter-result" data-testid="result" aria-live="polite">
          {valid ? `${choice.value} ${unitLabel(choice.from)} = ${result} ${unitLabel(choice.to)}` : "Enter a number to convert."}
        </p>
        {category.note && <p className="muted">{category.note}</p>}
      </section>
    </Shell>
  );
}
