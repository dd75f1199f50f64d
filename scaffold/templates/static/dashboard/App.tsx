import { useMemo, useState } from "react";
import { BarChart } from "./components/BarChart";
import { DataTable } from "./components/DataTable";
import { SummaryCard } from "./components/SummaryCard";
import { app, metrics, rows } from "./data";
import type { MetricKey } from "./types";

const RANGES = [
  { months: 3, label: "Last 3 months" },
  { months: 6, label: "Last 6 months" },
  { months: 12, label: "Last 12 months" },
] as const;

export default function App() {
  const [selected, setSelected] = useState<MetricKey>(metrics[0].key);
  const [months, setMonths] = useState<number>(12);
  const visible = useMemo(() => rows.slice(-months), [months]);
  const labels = visible.map((row) => row.period);
  const metric = metrics.find((candidate) => candidate.key === selected) ?? metrics[0];
  const rangeLabel = RANGES.find((range) => range.months === months)?.label ?? "All";

  return (
    <div className="app">
      <header className="app-header">
        <div className="container header-inner">
          <div>
            <h1 className="app-title">{app.title}</h1>
            <p className="app-subtitle">{app.description}</p>
          </div>
          <label className="range-picker">
            <span>Period</span>
            <select value={months} onChange={(event) => setMonths(Number(event.target.value))}>
              {RANGES.map((range) => (
                <option key={range.months} value={range.months}>
                  {range.label}
                </option>
              ))}
            </select>
          </label>
        </div>
      </header>
      <main className="container main">
        <p className="notice" role="note">
          Showing sample data. Replace <code>src/data.ts</code> with your own numbers.
        </p>
        <section aria-label="Summary" className="summary-grid">
          {metrics.map((candidate) => (
            <SummaryCard
              key={candidate.key}
              label={candidate.label}
              format={candidate.format}
              values={visible.map((row) => row[candidate.key])}
              period={rangeLabel}
              selected={candidate.key === metric.key}
              onSelect={() => setSelected(candidate.key)}
            />
          ))}
        </section>
        <section className="panel" aria-labelledby="chart-heading">
          <h2 id="chart-heading" className="panel-title">
            {metric.label} <span className="muted">· {rangeLabel}</span>
          </h2>
          <BarChart title={metric.label} labels={labels} values={visible.map((row) => row[metric.key])} format={metric.format} />
        </section>
        <section className="panel" aria-labelledby="table-heading">
          <h2 id="table-heading" className="panel-title">
            Details
          </h2>
          <DataTable
            caption={`${app.title}, ${rangeLabel.toLowerCase()}`}
            rowLabels={labels}
            columns={metrics.map((candidate) => ({
              label: candidate.label,
              format: candidate.format,
              values: visible.map((row) => row[candidate.key]),
            }))}
          />
        </section>
      </main>
      <footer className="app-footer container">Built with stich · data stays in your browser</footer>
    </div>
  );
}
