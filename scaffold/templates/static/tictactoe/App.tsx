import { useState } from "react";
import { config } from "./config";
import { bestMove, winner, type Cell, type Mark } from "./logic";
import { Shell } from "./components/Shell";
import { num, record, usePersisted } from "./persist";

interface Tally {
  x: number;
  o: number;
  draws: number;
}

function parseTally(raw: unknown): Tally | null {
  const r = record(raw);
  const x = num(r?.x);
  const o = num(r?.o);
  const draws = num(r?.draws);
  return x !== null && o !== null && draws !== null ? { x, o, draws } : null;
}

const empty = (): Cell[] => Array<Cell>(9).fill(null);

export default function App() {
  const [board, setBoard] = useState<Cell[]>(empty);
  const [turn, setTurn] = useState<Mark>("X");
  const [opponent, setOpponent] = useState(config.opponent);
  const [tally, setTally] = usePersisted<Tally>(config.storageKey + ":tally", { x: 0, o: 0, draws: 0 }, parseTally);
  const result = winner(board);

  function count(next: Cell[]) {
    const w = winner(next);
    if (w === "X") setTally((t) => ({ ...t, x: t.x + 1 }));
    else if (w === "O") setTally((t) => ({ ...t, o: t.o + 1 }));
    else if (w === "draw") setTally((t) => ({ ...t, draws: t.draws + 1 }));
    return w;
  }

  function play(i: number) {
    if (board[i] || result) return;
    let next = board.slice();
    next[i] = turn;
    if (count(next) === null && opponent === "computer") {
      const reply = bestMove(next, "O");
      if (reply >= 0) {
        next = next.slice();
        next[reply] = "O";
        count(next);
      }
      setBoard(next);
      return;
    }
    setBoard(next);
    setTurn(turn === "X" ? "O" : "X");
  }

  function newGame() {
    setBoard(empty());
    setTurn("X");
  }

  const status =
    result === "draw" ? "It's a draw!" : result ? `${result} wins!` : opponent === "computer" ? "Your move (X)" : `${turn} to play`;

  return (
    <Shell title={config.title} subtitle={config.subtitle}>
      <section className="panel game" aria-label="Board">
        <p className="game-status" role="status" data-testid="status">
          {status}
        </p>
        <div className="ttt-board" role="grid" aria-label="Tic-tac-toe board">
          {board.map((c, i) => (
            <button
              key={i}
              type="button"
              className={"ttt-cell" + (c ? " is-" + c.toLowerCase() : "")}
              aria-label={`Square ${i + 1}${c ? ", " + c : ""}`}
              data-cell={i}
              disabled={c !== null || result !== null}
              onClick={() => play(i)}
            >
              {c}
            </button>
          ))}
        </div>
        <div className="row">
          <button type="button" className="btn btn-primary" onClick={newGame}>
            New game
          </button>
          <label className="check">
            <input
              type="checkbox"
              checked={opponent === "computer"}
              onChange={(e) => {
                setOpponent(e.target.checked ? "computer" : "friend");
                newGame();
              }}
            />{" "}
            Play against the computer
          </label>
        </div>
      </section>
      <section className="panel" aria-label="Score">
        <h2 className="panel-title">Score</h2>
        <p data-testid="tally">
          X {tally.x} · O {tally.o} · Draws {tally.draws}
        </p>
        <button type="button" className="btn btn-small" onClick={() => setTally({ x: 0, o: 0, draws: 0 })}>
          Reset score
        </button>
      </section>
    </Shell>
  );
}
