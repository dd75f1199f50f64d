// Memory (pairs) game: a shuffled deck where every symbol appears twice.

export interface Config {
  title: string;
  subtitle: string;
  storageKey: string;
  symbols: string[];
}

export interface Tile {
  id: number;
  symbol: string;
}

/** deal returns two tiles per symbol in random order (Fisher-Yates with the given random source). */
export function deal(symbols: string[], random: () => number = Math.random): Tile[] {
  const tiles = symbols.flatMap((s, i) => [
    { id: i * 2, symbol: s },
    { id: i * 2 + 1, symbol: s },
  ]);
  for (let i = tiles.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [tiles[i], tiles[j]] = [tiles[j], tiles[i]];
  }
  return tiles;
}
