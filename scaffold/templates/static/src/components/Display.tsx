// Read-only renderings of field values, shared by cards and lists.
import { isWebUrl } from "../fields";

export function Stars({ value }: { value: number }) {
  const stars = Math.min(5, Math.max(0, Math.round(value)));
  if (stars === 0) return <span className="muted">Not rated</span>;
  return (
    <span className="stars" role="img" aria-label={`${stars} out of 5 stars`}>
      {"★".repeat(stars)}
      <span className="stars-off">{"★".repeat(5 - stars)}</span>
    </span>
  );
}

export function TagList({ items }: { items: readonly string[] }) {
  if (items.length === 0) return <span className="muted">None</span>;
  return (
    <ul className="tags">
      {items.map((item, index) => (
        <li key={`${index}-${item}`} className="tag">
          {item}
        </li>
      ))}
    </ul>
  );
}

export function YesNo({ value }: { value: boolean }) {
  return <span className={value ? "badge badge-yes" : "badge"}>{value ? "Yes" : "No"}</span>;
}

/** DateText shows a YYYY-MM-DD date in the reader's locale without shifting it across time zones. */
export function DateText({ value }: { value: string }) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return <span className="muted">No date</span>;
  const date = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return <time dateTime={value}>{date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" })}</time>;
}

export function NumberText({ value }: { value: number }) {
  return <span>{value.toLocaleString()}</span>;
}

/** TextValue shows text, turning web addresses into links that open safely in a new tab. */
export function TextValue({ value, link = false }: { value: string; link?: boolean }) {
  if (value === "") return <span className="muted">—</span>;
  if (link && isWebUrl(value)) {
    return (
      <a href={value} target="_blank" rel="noopener noreferrer">
        {value}
      </a>
    );
  }
  return <span className="text-value">{value}</span>;
}
