// Month grids and bookings. Dates are local calendar days as YYYY-MM-DD.

export interface Booking {
  id: string;
  date: string;
  time: string;
  title: string;
}

export interface Config {
  title: string;
  subtitle: string;
  storageKey: string;
  /** What one entry is called, e.g. "event" or "appointment". */
  noun: string;
  /** Bookable times of day (HH:MM); empty means free-form times. */
  slots: string[];
}

export function isoDay(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** monthGrid returns the days shown for a month: whole weeks from Monday, including the neighbours' days. */
export function monthGrid(year: number, month: number): { day: string; inMonth: boolean }[] {
  const first = new Date(year, month, 1);
  const offset = (first.getDay() + 6) % 7;
  const start = new Date(year, month, 1 - offset);
  const days: { day: string; inMonth: boolean }[] = [];
  for (let i = 0; i < 42; i++) {
    const d = new Date(start.getFullYear(), start.getMonth(), start.getDate() + i);
    days.push({ day: isoDay(d), inMonth: d.getMonth() === month });
  }
  return days;
}

/** freeSlots lists the configured slots not yet booked on date. */
export function freeSlots(slots: string[], bookings: Booking[], date: string): string[] {
  const taken = new Set(bookings.filter((b) => b.date === date).map((b) => b.time));
  return slots.filter((s) => !taken.has(s));
}

export function isBooking(raw: unknown): Booking | null {
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== "string" || typeof r.title !== "string" || typeof r.time !== "string") return null;
  if (typeof r.date !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(r.date)) return null;
  return { id: r.id, date: r.date, time: r.time, title: r.title };
}
