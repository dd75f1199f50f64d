import type { ReactNode } from "react";

/** EmptyState fills a list that has nothing to show yet and offers the next step. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty-state">
      <div className="empty-icon" aria-hidden="true">
        ✦
      </div>
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}
