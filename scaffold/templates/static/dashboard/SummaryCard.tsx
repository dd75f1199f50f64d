import { change, formatValue, summarize, type MetricFormat } from "../format";

interface SummaryCardProps {
  label: string;
  values: readonly number[];
  format: MetricFormat;
  /** Describes what the summary covers, e.g. "Last 6 months". */
  period: string;
  selected: boolean;
  onSelect: () => void;
}

/** SummaryCard shows one metric's total or average and its latest change; choosing it charts the metric. */
export function SummaryCard({ label, values, format, period, selected, onSelect }: SummaryCardProps) {
  const delta = change(values);
  const trend = delta === null ? "flat" : delta >= 0 ? "up" : "down";
  return (
    <button type="button" className={selected ? "summary-card summary-card-selected" : "summary-card"} aria-pressed={selected} onClick={onSelect}>
      <span className="summary-label">{label}</span>
      <span className="summary-value">{formatValue(summarize(values, format), format)}</span>
      <span className="summary-meta">
        {delta === null ? (
          period
        ) : (
          <>
            <span className={`trend trend-${trend}`}>
              {trend === "up" ? "▲" : "▼"} {Math.abs(delta).toFixed(1)}%
            </span>{" "}
            vs previous · {period}
          </>
        )}
      </span>
    </button>
  );
}
