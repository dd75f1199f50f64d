import { formatAxis, formatValue, type MetricFormat } from "../format";

interface BarChartProps {
  title: string;
  labels: readonly string[];
  values: readonly number[];
  format: MetricFormat;
}

const WIDTH = 640;
const HEIGHT = 260;
const PAD = { top: 16, right: 12, bottom: 32, left: 56 };

/** BarChart draws a responsive SVG bar chart; every bar carries its value as a tooltip and accessible text. */
export function BarChart({ title, labels, values, format }: BarChartProps) {
  const max = Math.max(1, ...values);
  const innerWidth = WIDTH - PAD.left - PAD.right;
  const innerHeight = HEIGHT - PAD.top - PAD.bottom;
  const step = values.length > 0 ? innerWidth / values.length : innerWidth;
  const barWidth = Math.max(4, step * 0.62);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => t * max);

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${title} bar chart`} preserveAspectRatio="xMidYMid meet">
        {ticks.map((tick) => {
          const y = PAD.top + innerHeight - (tick / max) * innerHeight;
          return (
            <g key={tick}>
              <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y} y2={y} className="chart-grid" />
              <text x={PAD.left - 8} y={y + 4} textAnchor="end" className="chart-axis">
                {formatAxis(tick, format)}
              </text>
            </g>
          );
        })}
        {values.map((value, index) => {
          const height = (Math.max(0, value) / max) * innerHeight;
          const x = PAD.left + index * step + (step - barWidth) / 2;
          return (
            <g key={`${labels[index] ?? index}-${index}`}>
              <rect x={x} y={PAD.top + innerHeight - height} width={barWidth} height={height} rx={4} className="chart-bar">
                <title>{`${labels[index] ?? ""}: ${formatValue(value, format)}`}</title>
              </rect>
              <text x={x + barWidth / 2} y={HEIGHT - 10} textAnchor="middle" className="chart-axis">
                {labels[index] ?? ""}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="sr-only">
        {labels.map((label, index) => `${label}: ${formatValue(values[index] ?? 0, format)}`).join(", ")}
      </figcaption>
    </figure>
  );
}
