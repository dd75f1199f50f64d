import { type FormEvent, useEffect, useRef, useState } from "react";
import { config } from "./config";
import { clock, remaining, toSeconds } from "./logic";
import { Shell } from "./components/Shell";
import { listOf, num, record, text, usePersisted } from "./persist";

interface Session {
  label: string;
  seconds: number;
  finishedAt: string;
}

const parseSessions = listOf((raw: unknown): Session | null => {
  const r = record(raw);
  const label = text(r?.label);
  const seconds = num(r?.seconds);
  const finishedAt = text(r?.finishedAt);
  return label !== null && seconds !== null && finishedAt !== null ? { label, seconds, finishedAt } : null;
});

export default function App() {
  const first = config.presets[0] ?? { label: "5 minutes", seconds: 300 };
  const [length, setLength] = useState(first.seconds);
  const [label, setLabel] = useState(first.label);
  const [left, setLeft] = useState(first.seconds);
  const [running, setRunning] = useState(false);
  const [done, setDone] = useState(false);
  const [minutes, setMinutes] = useState("");
  const [seconds, setSeconds] = useState("");
  const [error, setError] = useState("");
  const [history, setHistory] = usePersisted<Session[]>(config.storageKey + ":sessions", [], parseSessions);
  // The countdown is measured from when it (re)started, so a throttled
  // background tab still ends on time.
  const startedAt = useRef(0);
  const leftAtStart = useRef(first.seconds);

  useEffect(() => {
    if (!running) return;
    const id = window.setInterval(() => {
      const next = remaining(leftAtStart.current, Date.now() - startedAt.current);
      setLeft(next);
      if (next === 0) {
        setRunning(false);
        setDone(true);
        setHistory((h) => [{ label, seconds: length, finishedAt: new Date().toISOString() }, ...h].slice(0, 20));
      }
    }, 200);
    return () => window.clearInterval(id);
  }, [running, label, length, setHistory]);

  useEffect(() => {
    document.title = running || done ? `${clock(left)} · ${config.title}` : config.title;
  }, [left, running, done]);

  function choose(seconds: number, name: string) {
    setRunning(false);
    setDone(false);
    setLength(seconds);
    setLabel(name);
    setLeft(seconds);
  }

  function start() {
    if (left === 0) return;
    startedAt.current = Date.now();
    leftAtStart.current = left;
    setDone(false);
    setRunning(true);
  }

  function custom(event: FormEvent) {
    event.preventDefault();
    const total = toSeconds(minutes, seconds);
    if (total === null) {
      setError("Enter a time between 1 second and 24 hours.");
      return;
    }
    setError("");
    choose(total, clock(total));
  }

  const progress = length > 0 ? 1 - left / length : 0;
  return (
    <Shell title={config.title} subtitle={config.subtitle}>
      <section className="panel timer" aria-label="Timer">
        <p className="timer-label">{label}</p>
        <div className="timer-ring" style={{ ["--progress" as string]: String(progress) }}>
          <output className="timer-display" aria-live="off" data-testid="display">
            {clock(left)}
          </output>
        </div>
        <p className="timer-status" role="status" data-testid="status">
          {done ? "Time's up!" : running ? "Running" : left === length ? "Ready" : "Paused"}
        </p>
        <div className="row">
          {running ? (
            <button type="button" className="btn btn-large" onClick={() => setRunning(false)}>
              Pause
            </button>
          ) : (
            <button type="button" className="btn btn-primary btn-large" onClick={start} disabled={left === 0}>
              {left === length ? "Start" : "Resume"}
            </button>
          )}
          <button type="button" className="btn btn-large" onClick={() => choose(length, label)}>
            Reset
          </button>
        </div>
      </section>
      <section className="panel" aria-label="Presets">
        <h2 className="panel-title">Presets</h2>
        <div className="row">
          {config.presets.map((p) => (
            <button key={p.label} type="button" className="btn" onClick={() => choose(p.seconds, p.label)}>
              {p.label}
            </button>
          ))}
        </div>
        <form className="row custom-time" onSubmit={custom}>
          <label>
            Minutes
            <input inputMode="numeric" value={minutes} onChange={(e) => setMinutes(e.target.value)} name="minutes" />
          </label>
          <label>
            Seconds
            <input inputMode="numeric" value={seconds} onChange={(e) => setSeconds(e.target.value)} name="seconds" />
          </label>
          <button type="submit" className="btn">
            Set
          </button>
        </form>
        {error && <p className="field-error">{error}</p>}
      </section>
      <section className="panel" aria-label="Finished">
        <h2 className="panel-title">Finished</h2>
        {history.length === 0 ? (
          <p className="muted">Finished countdowns appear here.</p>
        ) : (
          <ul className="plain-list">
            {history.map((s) => (
              <li key={s.finishedAt}>
                {s.label} <span className="muted">· {new Date(s.finishedAt).toLocaleString()}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </Shell>
  );
}
