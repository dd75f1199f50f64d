import { type FormEvent, useState } from "react";
import { config } from "./config";
import { isCard, nextQueue, type Card } from "./logic";
import { Shell } from "./components/Shell";
import { listOf, usePersisted } from "./persist";

export default function App() {
  const [own, setOwn] = usePersisted<Card[]>(config.storageKey + ":cards", [], listOf(isCard));
  const cards = [...config.cards, ...own];
  const [queue, setQueue] = useState<number[]>(() => cards.map((_, i) => i));
  const [flipped, setFlipped] = useState(false);
  const [known, setKnown] = useState(0);
  const [front, setFront] = useState("");
  const [back, setBack] = useState("");
  const current = queue.length > 0 ? cards[queue[0]] : undefined;

  function answer(knewIt: boolean) {
    setQueue((q) => nextQueue(q, knewIt));
    setFlipped(false);
    if (knewIt) setKnown((k) => k + 1);
  }

  function restart() {
    setQueue(cards.map((_, i) => i));
    setKnown(0);
    setFlipped(false);
  }

  function add(e: FormEvent) {
    e.preventDefault();
    if (front.trim() === "" || back.trim() === "") return;
    setOwn((o) => [...o, { front: front.trim(), back: back.trim() }]);
    setQueue((q) => [...q, cards.length]);
    setFront("");
    setBack("");
  }

  return (
    <Shell title={config.title} subtitle={config.subtitle}>
      <p className="muted" data-testid="progress">
        {known} of {cards.length} known · {queue.length} left
      </p>
      {current ? (
        <section className="panel flashcard-area" aria-label="Card">
          <button
            type="button"
            className={"flashcard" + (flipped ? " is-flipped" : "")}
            onClick={() => setFlipped((f) => !f)}
            aria-label={flipped ? "Show the front" : "Show the answer"}
          >
            <span className="flashcard-side">{flipped ? current.back : current.front}</span>
            <span className="muted flashcard-hint">{flipped ? "Answer" : "Tap to flip"}</span>
          </button>
          <div className="row">
            <button type="button" className="btn" onClick={() => answer(false)} disabled={!flipped}>
              Again
            </button>
            <button type="button" className="btn btn-primary" onClick={() => answer(true)} disabled={!flipped}>
              I knew it
            </button>
          </div>
        </section>
      ) : (
        <section className="panel" aria-label="Done">
          <h2 className="panel-title" data-testid="done">
            Deck done: {known} of {cards.length} known
          </h2>
          <button type="button" className="btn btn-primary" onClick={restart}>
            Study again
          </button>
        </section>
      )}
      <form className="panel" onSubmit={add} aria-label="Add a card">
        <h2 className="panel-title">Add a card</h2>
        <label className="field">
          <span>Front</span>
          <input value={front} onChange={(e) => setFront(e.target.value)} />
        </label>
        <label className="field">
          <span>Back</span>
          <input value={back} onChange={(e) => setBack(e.target.value)} />
        </label>
        <button type="submit" className="btn">
          Add card
        </button>
      </form>
    </Shell>
  );
}
