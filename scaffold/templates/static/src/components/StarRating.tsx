import type { ChangeEvent } from "react";

interface StarRatingProps {
  /** Radio group name; unique per form. */
  name: string;
  /** Current rating, 0 (none) to 5. */
  value: number;
  onChange: (value: number) => void;
}

/** StarRating is a 1–5 star picker built from native radio buttons, so it works with keyboard and screen readers. */
export function StarRating({ name, value, onChange }: StarRatingProps) {
  return (
    <div className="star-rating">
      {[1, 2, 3, 4, 5].map((star) => (
        <label key={star} className={star <= value ? "star star-on" : "star"}>
          <input
            type="radio"
            className="sr-only"
            name={name}
            value={star}
            checked={value === star}
            onChange={(event: ChangeEvent<HTMLInputElement>) => onChange(Number(event.target.value))}
          />
          <span aria-hidden="true">★</span>
          <span className="sr-only">{star === 1 ? "1 star" : `${star} stars`}</span>
        </label>
      ))}
      {value > 0 && (
        <button type="button" className="btn-link" onClick={() => onChange(0)}>
          Clear
        </button>
      )}
    </div>
  );
}
