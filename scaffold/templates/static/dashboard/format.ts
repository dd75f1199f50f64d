// Number formatting for dashboard metrics.

export type MetricFormat = "currency" | "count" | "percent" | "rating" | "decimal";

const count = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const currency = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

export function formatValue(value: number, format: MetricFormat): string {
  switch (format) {
    case "currency":
      return currency.format(value);
    case "percent":
      return `${decimal.format(value)}%`;
    case "rating":
      return `${decimal.format(value)} / 5`;
    case "decimal":
      return decimal.format(value);
    default:
      return count.format(value);
  }
}

/** formatAxis keeps chart labels short: 12.5K rather than 12,500. */
export function formatAxis(value: number, format: MetricFormat): string {
  const short = compact.format(value);
  if (format === "currency") return `$${short}`;
  if (format === "percent") return `${short}%`;
  return short;
}

/** summarize totals amounts and counts, and averages rates and ratings. */
export function summarize(values: readonly number[], format: MetricFormat): number {
  if (values.length === 0) return 0;
  const total = values.reduce((sum, value) => sum + value, 0);
  return format === "percent" || format === "rating" || format === "decimal" ? total / values.length : total;
}

/** change is the percentage change from the previous value to the latest, or null without enough data. */
export function change(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const previous = values[values.length - 2];
  const latest = values[values.length - 1];
  if (previous === 0) return null;
  return ((latest - previous) / Math.abs(previous)) * 100;
}
