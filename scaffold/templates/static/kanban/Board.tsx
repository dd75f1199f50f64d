import { useState, type DragEvent, type ReactNode } from "react";
import type { ColumnDef } from "../types";

interface BoardProps<C extends string, T extends { id: string; status: C }> {
  columns: readonly ColumnDef<C>[];
  items: readonly T[];
  /** Short name of a card, used in button labels for screen readers. */
  itemLabel: (item: T) => string;
  renderCard: (item: T) => ReactNode;
  onMove: (id: string, to: C) => void;
}

/**
 * Board shows cards in columns. Cards move with the arrow buttons (keyboard
 * and touch friendly) or by dragging them onto another column.
 */
export function Board<C extends string, T extends { id: string; status: C }>({
  columns,
  items,
  itemLabel,
  renderCard,
  onMove,
}: BoardProps<C, T>) {
  const [dropTarget, setDropTarget] = useState<C | null>(null);

  function handleDrop(event: DragEvent<HTMLElement>, to: C) {
    event.preventDefault();
    setDropTarget(null);
    const id = event.dataTransfer.getData("text/plain");
    if (id) onMove(id, to);
  }

  return (
    <div className="board">
      {columns.map((column, index) => {
        const cards = items.filter((item) => item.status === column.id);
        const previous = index > 0 ? columns[index - 1] : undefined;
        const next = index < columns.length - 1 ? columns[index + 1] : undefined;
        return (
          <section
            key={column.id}
            className={dropTarget === column.id ? "column column-drop" : "column"}
            aria-label={column.label}
            onDragOver={(event) => {
              event.preventDefault();
              setDropTarget(column.id);
            }}
            onDragLeave={() => setDropTarget(null)}
            onDrop={(event) => handleDrop(event, column.id)}
          >
            <h2 className="column-title">
              {column.label} <span className="count">{cards.length}</span>
            </h2>
            {cards.length === 0 ? (
              <p className="column-empty">Nothing here yet.</p>
            ) : (
              <ul className="column-cards">
                {cards.map((item) => (
                  <li
                    key={item.id}
                    className="board-card"
                    draggable
                    onDragStart={(event) => event.dataTransfer.setData("text/plain", item.id)}
                  >
                    {renderCard(item)}
                    <div className="move-buttons">
                      <button
                        type="button"
                        className="btn btn-small"
                        disabled={!previous}
                        aria-label={previous ? `Move ${itemLabel(item)} to ${previous.label}` : "Already in the first column"}
                        onClick={() => previous && onMove(item.id, previous.id)}
                      >
                        ←
                      </button>
                      <button
                        type="button"
                        className="btn btn-small"
                        disabled={!next}
                        aria-label={next ? `Move ${itemLabel(item)} to ${next.label}` : "Already in the last column"}
                        onClick={() => next && onMove(item.id, next.id)}
                      >
                        →
                      </button>
                    </div>
                  </li>
                ))}
              </ul>
            )}
          </section>
        );
      })}
    </div>
  );
}
