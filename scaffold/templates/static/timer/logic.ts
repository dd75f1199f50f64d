// Countdown arithmetic, kept apart from the view so it is easy to test.

export interface Preset {
  label: string;
  seconds: number;
}

export interface Config {
  title: string;
  subtitle: string;
  storageKey: string;
  presets: Preset[];
}

/** clock formats seconds as m:ss, or h:mm:ss from an hour up. */
export function clock(total: number): string {
  const s = Math.max(0, Math.round(total));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** remaining is what is left of a countdown of length seconds that has run for elapsedMs. */
export function remaining(length: number, elapsedMs: number): number {
  return Math.max(0, length - Math.floor(elapsedMs / 1000));
}

/** toSeconds reads minutes and seconds typed by the user; null when they make no positive time. */
export function toSeconds(minutes: string, seconds: string): number | null {
  const m = minutes.trim() === "" ? 0 : Number(minutes);
  const s = seconds.trim() === "" ? 0 : Number(seconds);
  if (!Number.isFinite(m) || !Number.isFinite(s) || m < 0 || s < 0) return null;
  const total = Math.round(m * 60 + s);
  return total > 0 && total <= 24 * 3600 ? total : null;
}
