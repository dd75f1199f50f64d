import { type FormEvent, useState } from "react";
import { config } from "./config";
import { freeSlots, isBooking, isoDay, monthGrid, type Booking } from "./logic";
import { Shell } from "./components/Shell";
import { listOf, newId, usePersisted } from "./persist";

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export default function App() {
  const today = isoDay(new Date());
  const [bookings, setBookings] = usePersisted<Booking[]>(config.storageKey + ":bookings", [], listOf(isBooking));
  const [cursor, setCursor] = useState(() => {
    const d = new Date();
    return { year: d.getFullYear(), month: d.getMonth() };
  });
  const [day, setDay] = useState(today);
  const [title, setTitle] = useState("");
  const [time, setTime] = useState("");
  const [error, setError] = useState("");
  const grid = monthGrid(cursor.year, cursor.month);
  const monthName = new Date(cursor.year, cursor.month, 1).toLocaleString(undefined, { month: "long", year: "numeric" });
  const onDay = bookings.filter((b) => b.date === day).sort((a, b) => a.time.localeCompare(b.time));
  const free = freeSlots(config.slots, bookings, day);

  function move(delta: number) {
    setCursor(({ year, month }) => {
      const d = new Date(year, month + delta, 1);
      return { year: d.getFullYear(), month: d.getMonth() };
    });
  }

  function add(e: FormEvent) {
    e.preventDefault();
    const chosen = config.slots.length > 0 ? time || free[0] || "" : time;
    if (title.trim() === "") return setError(`Give the ${config.noun} a name.`);
    if (config.slots.length > 0 && !free.includes(chosen)) return setError("That time is already booked: pick another.");
    setBookings((bs) => [...bs, { id: newId(), date: day, time: chosen, title: title.trim() }]);
    setTitle("");
    setTime("");
    setError("");
  }

  return (
    <Shell title={config.title} subtitle={config.subtitle}>
      <div className="calendar-layout">
        <section className="panel" aria-label="Month">
          <div className="row calendar-nav">
            <button type="button" className="btn btn-small" onClick={() => move(-1)} aria-label="Previous month">
              ‹
            </button>
            <h2 className="panel-title">{monthName}</h2>
            <button type="button" className="btn btn-small" onClick={() => move(1)} aria-label="Next month">
              ›
            </button>
          </div>
          <div className="calendar-grid" role="grid">
            {WEEKDAYS.map((w) => (
              <div key={w} className="calendar-weekday">
                {w}
              </div>
            ))}
            {grid.map((d) => {
              const count = bookings.filter((b) => b.date === d.day).length;
              return (
                <button
                  key={d.day}
                  type="button"
                  data-day={d.day}
                  className={
                    "calendar-day" + (d.inMonth ? "" : " is-outside") + (d.day === today ? " is-today" : "") + (d.day === day ? " is-selected" : "")
                  }
                  aria-pressed={d.day === day}
                  aria-label={d.day + (count ? `, ${count} ${config.noun}${count > 1 ? "s" : ""}` : "")}
                  onClick={() => setDay(d.day)}
                >
                  {Number(d.day.slice(8))}
                  {count > 0 && <span className="calendar-dot">{count}</span>}
                </button>
              );
            })}
          </div>
        </section>
        <section className="panel" aria-label="Selected day">
          <h2 className="panel-title">{new Date(day + "T00:00").toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long" })}</h2>
          {onDay.length === 0 ? (
            <p className="muted">Nothing on this day yet.</p>
          ) : (
            <ul className="plain-list" data-testid="day-list">
              {onDay.map((b) => (
                <li key={b.id} className="row">
                  <span>
                    <strong>{b.time || "All day"}</strong> {b.title}
                  </span>
                  <button type="button" className="btn-link btn-danger" onClick={() => setBookings((bs) => bs.filter((x) => x.id !== b.id))}>
                    Cancel
                  </button>
                </li>
              ))}
            </ul>
          )}
          <form onSubmit={add} aria-label={`Add ${config.noun}`}>
            <label className="field">
              <span>{capital(config.noun)}</span>
              <input name="title" value={title} onChange={(e) => setTitle(e.target.value)} />
            </label>
            {config.slots.length > 0 ? (
              <label className="field">
                <span>Time</span>
                <select name="time" value={time || free[0] || ""} onChange={(e) => setTime(e.target.value)} disabled={free.length === 0}>
                  {free.map((s) => (
                    <option key={s} value={s}>
                      {s}
                    </option>
                  ))}
                </select>
              </label>
            ) : (
              <label className="field">
                <span>Time (optional)</span>
                <input name="time" type="time" value={time} onChange={(e) => setTime(e.target.value)} />
              </label>
            )}
            {error && <p className="field-error">{error}</p>}
            <button type="submit" className="btn btn-primary" disabled={config.slots.length > 0 && free.length === 0}>
              {config.slots.length > 0 && free.length === 0 ? "Fully booked" : `Add ${config.noun}`}
            </button>
          </form>
        </section>
      </div>
    </Shell>
  );
}
