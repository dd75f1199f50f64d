import type { ReactNode } from "react";
import type { Problem } from "../api";

interface Props {
  problem: Problem;
  onRetry?: () => void;
  retryLabel?: string;
  /** Extra guidance below the detail. */
  children?: ReactNode;
}

/** ProblemBox says what went wrong and, when it may help, offers to retry. */
export function ProblemBox({ problem, onRetry, retryLabel = "Retry", children }: Props) {
  return (
    <div className={`problem ${problem.retryable ? "warn" : ""}`} role="alert" data-code={problem.code}>
      <strong>{problem.title}</strong>
      <p>{problem.detail}</p>
      {children}
      {onRetry && problem.retryable && (
        <button type="button" className="btn" onClick={onRetry}>
          {retryLabel}
        </button>
      )}
    </div>
  );
}
