import { useEffect, useState } from "react";
import { config } from "./config";
import { deal, type Tile } from "./logic";
import { Shell } from "./components/Shell";
import { num, usePersisted } from "./persist";

export default function App() {
  const [tiles, setTiles] = useState<Tile[]>(() => deal(config.symbols));
  const [open, setOpen] = useState<number[]>([]);
  const [matched, setMatched] = useState<Set<number>>(() => new Set());
  const [moves, setMoves] = useState(0);
  const [best, setBest] = usePersisted<number>(config.storageKey + ":best", 0, num);
  const won = matched.size === tiles.length;

  // Two open tiles that differ turn back after a moment.
  useEffect(() => {
    if (open.length !== 2) return;
    const id = window.setTimeout(() => setOpen([]), 700);
    return () => window.clearTimeout(id);
  }, [open]);

  function flip(tile: Tile) {
    if (matched.has(tile.id) || open.includes(tile.id) || open.length === 2) return;
    const next = [...open, tile.id];
    if (next.length < 2) {
      setOpen(next);
      return;
    }
    setMoves((m) => m + 1);
    const [a, b] = next.map((id) => tiles.find((t) => t.id === id));
    if (a && b && a.symbol === b.symbol) {
      const done = new Set(matched).add(a.id).add(b.id);
      setMatched(done);
      setOpen([]);
      if (done.size === tiles.length) setBest((x) => (x === 0 ? moves + 1 : Math.min(x, moves + 1)));
      return;
    }
    setOpen(next);
  }

  function newGame() {
    setTiles(deal(config.symbols));
    setOpen([]);
    setMatched(new Set());
    setMoves(0);
  }

  return (
    <Shell title={config.title} subtitle={config.subtitle}>
      <section className="panel game" aria-label="Board">
        <p className="game-status" role="status" data-testid="status">
          {won ? `You found all ${tiles.length / 2} pairs in ${moves} moves!` : `Moves: ${moves} · Pairs: ${matched.size / 2} of ${tiles.length / 2}`}
        </p>
        <div className="memory-board">
          {tiles.map((t) => {
            const shown = matched.has(t.id) || open.includes(t.id);
            return (
              <button
                key={t.id}
                type="button"
                className={"memory-tile" + (shown ? " is-open" : "") + (matched.has(t.id) ? " is-matched" : "")}
                aria-label={shown ? t.symbol : "Hidden tile"}
                data-symbol={shown ? t.symbol : undefined}
                onClick={() => flip(t)}
              >
                {shown ? t.symbol : "?"}
              </button>
            );
          })}
        </div>
        <div className="row">
          <button type="button" className="btn btn-primary" onClick={newGame}>
            New game
          </button>
          <span className="muted">Best: {best === 0 ? "—" : `${best} moves`}</span>
        </div>
      </section>
    </Shell>
  );
}
