// Tic-tac-toe rules and a computer player that never loses.

export type Mark = "X" | "O";
export type Cell = Mark | null;

export interface Config {
  title: string;
  subtitle: string;
  storageKey: string;
  /** "computer": O is played by the app; "friend": two people take turns. */
  opponent: "computer" | "friend";
}

const LINES = [
  [0, 1, 2], [3, 4, 5], [6, 7, 8],
  [0, 3, 6], [1, 4, 7], [2, 5, 8],
  [0, 4, 8], [2, 4, 6],
];

/** winner returns the mark with three in a row, "draw" for a full board, or null while the game goes on. */
export function winner(board: Cell[]): Mark | "draw" | null {
  for (const [a, b, c] of LINES) {
    const m = board[a];
    if (m && m === board[b] && m === board[c]) return m;
  }
  return board.every((c) => c !== null) ? "draw" : null;
}

function minimax(board: Cell[], turn: Mark, me: Mark): number {
  const w = winner(board);
  if (w === me) return 10;
  if (w === "draw") return 0;
  if (w) return -10;
  const scores: number[] = [];
  board.forEach((c, i) => {
    if (c) return;
    const next = board.slice();
    next[i] = turn;
    scores.push(minimax(next, turn === "X" ? "O" : "X", me) * 0.9);
  });
  return turn === me ? Math.max(...scores) : Math.min(...scores);
}

/** bestMove picks the computer's move for mark; -1 when the board is full. */
export function bestMove(board: Cell[], mark: Mark): number {
  let best = -1;
  let bestScore = -Infinity;
  board.forEach((c, i) => {
    if (c) return;
    const next = board.slice();
    next[i] = mark;
    const s = minimax(next, mark === "X" ? "O" : "X", mark);
    if (s > bestScore) {
      bestScore = s;
      best = i;
    }
  });
  return best;
}
