//go:build ignore

package main

// Bases 6–10.

var landing = base{
	name: "landing",
	files: map[string]string{
		"package.json":      pkg("calm-landing", "clsx\": \"^2.0.0"),
		"tsconfig.json":     tsconfigPlain,
		"src/vite-env.d.ts": "/// <reference types=\"vite/client\" />\n",
		"src/App.css":       ".hero {\n  padding: 4rem 1rem;\n}\n",
		"src/main.tsx":      mainStd,
		"src/content.ts": `export const features = [
  { title: "Fast", text: "Loads in the blink of an eye." },
  { title: "Private", text: "Your data stays on your device." },
  { title: "Friendly", text: "Works the way you expect." },
];

export const plans = [
  { name: "Starter", price: 0, perks: ["1 project", "Community support"], highlighted: false },
  { name: "Pro", price: 12, perks: ["Unlimited projects", "Email support"], highlighted: true },
];
`,
		"src/components/Button.tsx": `import clsx from "clsx";
import type { ButtonHTMLAttributes } from "react";

type ButtonProps = ButtonHTMLAttributes<HTMLButtonElement> & { variant?: "primary" | "ghost" };

export function Button({ variant = "primary", className, ...rest }: ButtonProps) {
  return <button className={clsx("btn", ` + "`btn-${variant}`" + `, className)} {...rest} />;
}
`,
		"src/sections/Hero.tsx": `import { Button } from "../components/Button";

export function Hero({ onSignup }: { onSignup: () => void }) {
  return (
    <section className="hero">
      <h1>Plan less. Do more.</h1>
      <p className="lead">The calm to-do app for busy people.</p>
      <Button onClick={onSignup}>Get started</Button>
    </section>
  );
}
`,
		"src/sections/Features.tsx": `import { features } from "../content";

export function Features() {
  return (
    <section className="features">
      {features.map((f) => (
        <div key={f.title} className="feature">
          <h3>{f.title}</h3>
          <p>{f.text}</p>
        </div>
      ))}
    </section>
  );
}
`,
		"src/sections/Pricing.tsx": `import clsx from "clsx";
import { plans } from "../content";
import { Button } from "../components/Button";

export function Pricing() {
  return (
    <section className="pricing">
      {plans.map((plan) => (
        <div key={plan.name} className={clsx("plan", plan.highlighted && "plan-highlighted")}>
          <h3>{plan.name}</h3>
          <p className="price">{plan.price === 0 ? "Free" : ` + "`$${plan.price}/mo`" + `}</p>
          <ul>
            {plan.perks.map((perk) => (
              <li key={perk}>{perk}</li>
            ))}
          </ul>
          <Button variant={plan.highlighted ? "primary" : "ghost"}>Choose {plan.name}</Button>
        </div>
      ))}
    </section>
  );
}
`,
		"src/App.tsx": `import { useState } from "react";
import { Hero } from "./sections/Hero";
import { Features } from "./sections/Features";
import { Pricing } from "./sections/Pricing";
import "./App.css";

export default function App() {
  const [signedUp, setSignedUp] = useState(false);
  return (
    <>
      <Hero onSignup={() => setSignedUp(true)} />
      {signedUp && <p className="thanks">Thanks! Check your inbox.</p>}
      <Features />
      <Pricing />
      <footer className="footer">© 2025 Calm</footer>
    </>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "class-attrs", about: "writes class attributes throughout a section",
			edits: []ed{{"src/sections/Features.tsx", `<section className="features">`, `<section class="features">`}, {"src/sections/Features.tsx", `className="feature">`, `class="feature">`}},
			wants: []want{{"src/sections/Features.tsx", "lacks", `class="`}, {"src/sections/Features.tsx", "contains", `className="feature">`}}},
		{id: "undeclared-package", about: "uses clsx without declaring it",
			edits: []ed{{"package.json", ",\n    \"clsx\": \"^2.0.0\"", ""}},
			wants: []want{{"package.json", "contains", `"clsx": "^2.1.1"`}}},
		{id: "singular-folder", about: "imports from section/ instead of sections/",
			edits: []ed{{"src/App.tsx", `from "./sections/Pricing"`, `from "./section/Pricing"`}},
			wants: []want{{"src/App.tsx", "contains", `from "./sections/Pricing"`}}},
		{id: "import-case", about: "imports ./sections/hero in lower case",
			edits: []ed{{"src/App.tsx", `from "./sections/Hero"`, `from "./sections/hero"`}},
			wants: []want{{"src/App.tsx", "contains", `from "./sections/Hero"`}}},
		{id: "unused-type", about: "declares a Size type it never uses",
			edits: []ed{{"src/components/Button.tsx", "type ButtonProps =", "type Size = \"sm\" | \"md\" | \"lg\";\n\ntype ButtonProps ="}},
			wants: []want{{"src/components/Button.tsx", "lacks", "type Size"}}},
		{id: "void-br", about: "writes <br> as in HTML",
			edits: []ed{{"src/sections/Hero.tsx", "The calm to-do app for busy people.", "The calm to-do app<br>for busy people."}},
			wants: []want{{"src/sections/Hero.tsx", "contains", "<br />for busy people."}}},
		{id: "default-named", about: "default-imports the named Button",
			edits: []ed{{"src/sections/Pricing.tsx", `import { Button } from "../components/Button";`, `import Button from "../components/Button";`}},
			wants: []want{{"src/sections/Pricing.tsx", "contains", `import { Button } from "../components/Button"`}}},
		{id: "missing-testimonials", about: "renders a Testimonials section that was never written", intent: true,
			edits: []ed{{"src/App.tsx", "      <Features />\n", "      <Features />\n      <Testimonials />\n"}}},
	},
}

var pomodoro = base{
	name: "pomodoro",
	files: map[string]string{
		"package.json":  pkg("pomodoro"),
		"tsconfig.json": tsconfigPlain,
		"src/main.tsx":  mainStd,
		"src/hooks/useInterval.ts": `import { useEffect, useRef } from "react";

export function useInterval(callback: () => void, delay: number | null) {
  const saved = useRef(callback);
  useEffect(() => {
    saved.current = callback;
  }, [callback]);
  useEffect(() => {
    if (delay === null) return;
    const id = window.setInterval(() => saved.current(), delay);
    return () => window.clearInterval(id);
  }, [delay]);
}
`,
		"src/lib/time.ts": `export function formatSeconds(total: number): string {
  const m = Math.floor(total / 60);
  const s = total % 60;
  return ` + "`${String(m).padStart(2, \"0\")}:${String(s).padStart(2, \"0\")}`" + `;
}

export const MODES = { focus: 25 * 60, short: 5 * 60, long: 15 * 60 } as const;
export type Mode = keyof typeof MODES;
`,
		"src/components/Timer.tsx": `import { useRef, useState } from "react";
import { useInterval } from "../hooks/useInterval";
import { formatSeconds, MODES, type Mode } from "../lib/time";

export function Timer() {
  const [mode, setMode] = useState<Mode>("focus");
  const [left, setLeft] = useState<number>(MODES.focus);
  const [running, setRunning] = useState(false);
  const startedAt = useRef<number | undefined>(undefined);
  const titleRef = useRef<HTMLHeadingElement>(null);

  useInterval(() => setLeft((s) => Math.max(0, s - 1)), running && left > 0 ? 1000 : null);

  const switchMode = (next: Mode) => {
    setMode(next);
    setLeft(MODES[next]);
    setRunning(false);
    titleRef.current?.focus();
  };

  const toggle = () => {
    if (!running) startedAt.current = Date.now();
    setRunning(!running);
  };

  return (
    <div className="timer">
      <h2 ref={titleRef} tabIndex={-1}>
        {formatSeconds(left)}
      </h2>
      <div className="modes">
        {(Object.keys(MODES) as Mode[]).map((m) => (
          <button key={m} className={m === mode ? "active" : ""} onClick={() => switchMode(m)}>
            {m}
          </button>
        ))}
      </div>
      <button className="primary" onClick={toggle}>
        {running ? "Pause" : "Start"}
      </button>
    </div>
  );
}
`,
		"src/components/TaskNotes.tsx": `import { useEffect, useRef, useState } from "react";

const KEY = "pomodoro-notes";

export function TaskNotes() {
  const [notes, setNotes] = useState<string[]>(() => JSON.parse(localStorage.getItem(KEY) ?? "[]") as string[]);
  const [draft, setDraft] = useState("");
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    localStorage.setItem(KEY, JSON.stringify(notes));
  }, [notes]);

  const add = () => {
    if (!draft.trim()) return;
    setNotes([...notes, draft.trim()]);
    setDraft("");
    inputRef.current?.focus();
  };

  return (
    <section className="notes">
      <h2>Notes</h2>
      <input ref={inputRef} value={draft} onChange={(e) => setDraft(e.target.value)} onKeyDown={(e) => e.key === "Enter" && add()} />
      <button onClick={add}>Add</button>
      <ul>
        {notes.map((n, i) => (
          <li key={i}>{n}</li>
        ))}
      </ul>
    </section>
  );
}
`,
		"src/App.tsx": `import { Timer } from "./components/Timer";
import { TaskNotes } from "./components/TaskNotes";

export default function App() {
  return (
    <main>
      <h1>Pomodoro</h1>
      <Timer />
      <TaskNotes />
    </main>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "useref-element", about: "calls useRef<HTMLHeadingElement>() without the argument React 19 requires",
			edits: []ed{{"src/components/Timer.tsx", "useRef<HTMLHeadingElement>(null)", "useRef<HTMLHeadingElement>()"}},
			wants: []want{{"src/components/Timer.tsx", "contains", "useRef<HTMLHeadingElement>(null)"}}},
		{id: "useref-value", about: "calls useRef<number>() without an argument",
			edits: []ed{{"src/components/Timer.tsx", "useRef<number | undefined>(undefined)", "useRef<number>()"}},
			wants: []want{{"src/components/Timer.tsx", "contains", "useRef<number | undefined>(undefined)"}}},
		{id: "nullable-ref", about: "calls focus() on a ref that may be null",
			edits: []ed{{"src/components/TaskNotes.tsx", "inputRef.current?.focus();", "inputRef.current.focus();"}},
			wants: []want{{"src/components/TaskNotes.tsx", "contains", "inputRef.current?.focus();"}}},
		{id: "state-never", about: "useState([]) for a list of strings",
			edits: []ed{{"src/components/TaskNotes.tsx", `useState<string[]>(() => JSON.parse(localStorage.getItem(KEY) ?? "[]") as string[])`, "useState([])"}},
			wants: []want{{"src/components/TaskNotes.tsx", "contains", "useState<string[]>([])"}}},
		{id: "lowercase-tabindex", about: "writes tabindex as in HTML",
			edits: []ed{{"src/components/Timer.tsx", "tabIndex={-1}", "tabindex={-1}"}},
			wants: []want{{"src/components/Timer.tsx", "contains", "tabIndex={-1}"}}},
		{id: "missing-hook-import", about: "uses useRef without importing it",
			edits: []ed{{"src/components/TaskNotes.tsx", `import { useEffect, useRef, useState } from "react";`, `import { useEffect, useState } from "react";`}},
			wants: []want{{"src/components/TaskNotes.tsx", "matches", `import \{[^}]*\buseRef\b[^}]*\} from "react"`}}},
		{id: "plural-module", about: "imports ../lib/times for ../lib/time",
			edits: []ed{{"src/components/Timer.tsx", `from "../lib/time"`, `from "../lib/times"`}},
			wants: []want{{"src/components/Timer.tsx", "contains", `from "../lib/time"`}}},
		{id: "unused-index", about: "keeps an unused index parameter",
			edits: []ed{{"src/components/TaskNotes.tsx", "<li key={i}>{n}</li>", "<li key={n}>{n}</li>"}},
			wants: []want{{"src/components/TaskNotes.tsx", "contains", "notes.map((n) => ("}}},
		{id: "missing-settings", about: "imports a Settings panel that does not exist", intent: true,
			edits: []ed{{"src/App.tsx", "import { TaskNotes } from \"./components/TaskNotes\";", "import { TaskNotes } from \"./components/TaskNotes\";\nimport { Settings } from \"./components/Settings\";"}, {"src/App.tsx", "      <TaskNotes />\n", "      <TaskNotes />\n      <Settings />\n"}}},
	},
}

var kanbanAlias = base{
	name: "kanban",
	files: map[string]string{
		"package.json":  pkg("kanban-board", "clsx\": \"^2.0.0"),
		"tsconfig.json": tsconfigAliasVerbatim,
		"src/main.tsx":  mainStd,
		"src/lib/utils.ts": `import { clsx, type ClassValue } from "clsx";

export function cn(...inputs: ClassValue[]) {
  return clsx(inputs);
}

export function uid(): string {
  return Math.random().toString(36).slice(2, 10);
}
`,
		"src/components/ui/Card.tsx": `import type { ReactNode } from "react";
import { cn } from "@/lib/utils";

export interface CardProps {
  title: string;
  children?: ReactNode;
  className?: string;
}

export function Card({ title, children, className }: CardProps) {
  return (
    <div className={cn("card", className)}>
      <h3 className="card-title">{title}</h3>
      {children}
    </div>
  );
}
`,
		"src/board/types.ts": `export type ColumnId = "todo" | "doing" | "done";

export interface Task {
  id: string;
  text: string;
  column: ColumnId;
}

export const COLUMNS: { id: ColumnId; label: string }[] = [
  { id: "todo", label: "To do" },
  { id: "doing", label: "Doing" },
  { id: "done", label: "Done" },
];
`,
		"src/board/Column.tsx": `import type { DragEvent } from "react";
import { Card } from "@/components/ui/Card";
import type { ColumnId, Task } from "@/board/types";

interface ColumnProps {
  id: ColumnId;
  label: string;
  tasks: Task[];
  onDropTask: (taskId: string, column: ColumnId) => void;
}

export function Column({ id, label, tasks, onDropTask }: ColumnProps) {
  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    onDropTask(e.dataTransfer.getData("text/plain"), id);
  };
  return (
    <div className="column" onDragOver={(e) => e.preventDefault()} onDrop={onDrop}>
      <h2>{label}</h2>
      {tasks.map((task) => (
        <div key={task.id} draggable onDragStart={(e) => e.dataTransfer.setData("text/plain", task.id)}>
          <Card title={task.text} />
        </div>
      ))}
    </div>
  );
}
`,
		"src/App.tsx": `import { useState } from "react";
import { Column } from "@/board/Column";
import { COLUMNS, type ColumnId, type Task } from "@/board/types";
import { uid } from "@/lib/utils";

export default function App() {
  const [tasks, setTasks] = useState<Task[]>([]);
  const [text, setText] = useState("");
  const add = () => {
    if (!text) return;
    setTasks([...tasks, { id: uid(), text, column: "todo" }]);
    setText("");
  };
  const move = (id: string, column: ColumnId) => setTasks(tasks.map((t) => (t.id === id ? { ...t, column } : t)));
  return (
    <div className="kanban">
      <div className="add">
        <input value={text} onChange={(e) => setText(e.target.value)} />
        <button onClick={add}>Add task</button>
      </div>
      <div className="columns">
        {COLUMNS.map((c) => (
          <Column key={c.id} id={c.id} label={c.label} tasks={tasks.filter((t) => t.column === c.id)} onDropTask={move} />
        ))}
      </div>
    </div>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "state-never-anonymous", about: "useState([]) whose setter receives object literals: the type to write is Task[], which the message does not name",
			edits: []ed{{"src/App.tsx", "useState<Task[]>([])", "useState([])"}},
			wants: []want{{"src/App.tsx", "contains", "useState<Task[]>([])"}}},
		{id: "alias-case", about: "imports @/components/ui/card in lower case",
			edits: []ed{{"src/board/Column.tsx", `from "@/components/ui/Card"`, `from "@/components/ui/card"`}},
			wants: []want{{"src/board/Column.tsx", "contains", `from "@/components/ui/Card"`}}},
		{id: "verbatim-types", about: "imports two types as values under verbatimModuleSyntax",
			edits: []ed{{"src/App.tsx", `import { COLUMNS, type ColumnId, type Task } from "@/board/types";`, `import { COLUMNS, ColumnId, Task } from "@/board/types";`}},
			wants: []want{{"src/App.tsx", "contains", `import { COLUMNS, type ColumnId, type Task } from "@/board/types"`}}},
		{id: "wrong-module", about: "imports cn from @/lib/cn; @/lib/utils exports it",
			edits: []ed{{"src/components/ui/Card.tsx", `import { cn } from "@/lib/utils";`, `import { cn } from "@/lib/cn";`}},
			wants: []want{{"src/components/ui/Card.tsx", "contains", `import { cn } from "@/lib/utils"`}}},
		{id: "undeclared-package", about: "uses clsx without declaring it",
			edits: []ed{{"package.json", ",\n    \"clsx\": \"^2.0.0\"", ""}},
			wants: []want{{"package.json", "contains", `"clsx": "^2.1.1"`}}},
		{id: "untyped-drop", about: "writes the drop handler with an untyped event",
			edits: []ed{{"src/board/Column.tsx", "const onDrop = (e: DragEvent<HTMLDivElement>) => {", "const onDrop = (e) => {"}, {"src/board/Column.tsx", "import type { DragEvent } from \"react\";\n", ""}},
			wants: []want{{"src/board/Column.tsx", "contains", "const onDrop = (e: DragEvent<HTMLDivElement>) => {"}}},
		{id: "unused-destructured", about: "destructures className and stops using it",
			edits: []ed{{"src/components/ui/Card.tsx", `<div className={cn("card", className)}>`, `<div className={cn("card")}>`}},
			wants: []want{{"src/components/ui/Card.tsx", "contains", "{ title, children }: CardProps"}}},
		{id: "undefined-sort", about: "sorts tasks with a helper that exists nowhere", intent: true,
			edits: []ed{{"src/App.tsx", "tasks={tasks.filter((t) => t.column === c.id)}", "tasks={sortTasks(tasks.filter((t) => t.column === c.id))}"}}},
	},
}

const mainRender = `import * as React from "react";
import ReactDOM from "react-dom";
import App from "./App";

ReactDOM.render(
  <React.StrictMode>
    <App />
  </React.StrictMode>,
  document.getElementById("root"),
);
`

var memory = base{
	name: "memory",
	files: map[string]string{
		"package.json":  pkg("memory-game", "nanoid\": \"^5.0.0"),
		"tsconfig.json": tsconfigPlain,
		"src/main.tsx":  mainStd,
		"src/lib/shuffle.ts": `export function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
`,
		"src/game/cards.ts": `import { nanoid } from "nanoid";
import { shuffle } from "../lib/shuffle";

export interface MemoryCard {
  id: string;
  emoji: string;
  flipped: boolean;
  matched: boolean;
}

const EMOJIS = ["🍎", "🍌", "🍇", "🍒", "🥝", "🍑"];

export function newDeck(): MemoryCard[] {
  return shuffle([...EMOJIS, ...EMOJIS]).map((emoji) => ({ id: nanoid(), emoji, flipped: false, matched: false }));
}
`,
		"src/components/CardView.tsx": `import * as React from "react";
import type { MemoryCard } from "../game/cards";

type Props = { card: MemoryCard; onFlip: (id: string) => void };

export const CardView: React.FC<Props> = ({ card, onFlip }) => (
  <button className={card.flipped || card.matched ? "card open" : "card"} onClick={() => onFlip(card.id)} disabled={card.matched}>
    {card.flipped || card.matched ? card.emoji : "?"}
  </button>
);
`,
		"src/App.tsx": `import * as React from "react";
import { CardView } from "./components/CardView";
import { newDeck, type MemoryCard } from "./game/cards";

const App: React.FC = () => {
  const [deck, setDeck] = React.useState<MemoryCard[]>(newDeck);
  const [picked, setPicked] = React.useState<string[]>([]);
  const [moves, setMoves] = React.useState(0);

  React.useEffect(() => {
    if (picked.length !== 2) return;
    const [a, b] = picked.map((id) => deck.find((c) => c.id === id)!);
    const timer = window.setTimeout(() => {
      setDeck((d) => d.map((c) => (c.id === a.id || c.id === b.id ? { ...c, flipped: false, matched: a.emoji === b.emoji } : c)));
      setPicked([]);
    }, 700);
    return () => window.clearTimeout(timer);
  }, [picked, deck]);

  const flip = (id: string) => {
    if (picked.length === 2 || picked.includes(id)) return;
    setDeck((d) => d.map((c) => (c.id === id ? { ...c, flipped: true } : c)));
    setPicked([...picked, id]);
    setMoves((m) => m + 1);
  };

  const restart = () => {
    setDeck(newDeck());
    setPicked([]);
    setMoves(0);
  };

  const won = deck.every((c) => c.matched);
  return (
    <div className="memory">
      <h1>Memory</h1>
      <p>Moves: {moves}</p>
      {won && <p className="won">You won!</p>}
      <div className="grid">
        {deck.map((card) => (
          <CardView key={card.id} card={card} onFlip={flip} />
        ))}
      </div>
      <button onClick={restart}>Restart</button>
    </div>
  );
};

export default App;
`,
	},
	mistakes: []mistake{
		{id: "moved-module", about: "imports shuffle from utils/ though it lives in lib/",
			edits: []ed{{"src/game/cards.ts", `from "../lib/shuffle"`, `from "../utils/shuffle"`}},
			wants: []want{{"src/game/cards.ts", "contains", `from "../lib/shuffle"`}}},
		{id: "undeclared-package", about: "imports nanoid without declaring it",
			edits: []ed{{"package.json", ",\n    \"nanoid\": \"^5.0.0\"", ""}},
			wants: []want{{"package.json", "contains", `"nanoid": "^5.1.12"`}}},
		{id: "state-never", about: "React.useState([]) for picked card ids",
			edits: []ed{{"src/App.tsx", "React.useState<string[]>([])", "React.useState([])"}},
			wants: []want{{"src/App.tsx", "contains", "React.useState<string[]>([])"}}},
		{id: "default-named", about: "default-imports the named CardView",
			edits: []ed{{"src/App.tsx", `import { CardView } from "./components/CardView";`, `import CardView from "./components/CardView";`}},
			wants: []want{{"src/App.tsx", "contains", `import { CardView } from "./components/CardView"`}}},
		{id: "class-attr", about: "writes class on a button",
			edits: []ed{{"src/components/CardView.tsx", "<button className={card.flipped", "<button class={card.flipped"}},
			wants: []want{{"src/components/CardView.tsx", "contains", "<button className={card.flipped"}}},
		{id: "unused-const", about: "declares a constant it never uses",
			edits: []ed{{"src/game/cards.ts", "const EMOJIS", "const BACK = \"?\";\nconst EMOJIS"}},
			wants: []want{{"src/game/cards.ts", "lacks", "BACK"}}},
		{id: "reactdom-render", about: "mounts with ReactDOM.render",
			edits: []ed{{"src/main.tsx", mainStd, mainRender}},
			wants: []want{{"src/main.tsx", "matches", `createRoot\(document\.getElementById\("root"\)!\)\.render\(`}, {"src/main.tsx", "lacks", "ReactDOM"}}},
		{id: "undefined-best", about: "shows a best score from a variable that exists nowhere", intent: true,
			edits: []ed{{"src/App.tsx", "      <p>Moves: {moves}</p>\n", "      <p>Moves: {moves}</p>\n      <p>Best: {bestScore}</p>\n"}}},
	},
}

var contacts = base{
	name: "contacts",
	files: map[string]string{
		"package.json":  pkg("contacts-crud"),
		"tsconfig.json": tsconfigPlain,
		"src/main.tsx":  mainStd,
		"src/api/contacts.ts": `export interface Contact {
  id: number;
  name: string;
  email: string;
  phone?: string;
}

const KEY = "contacts";

export function loadContacts(): Contact[] {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "[]") as Contact[];
  } catch {
    return [];
  }
}

export function saveContacts(contacts: Contact[]): void {
  localStorage.setItem(KEY, JSON.stringify(contacts));
}
`,
		"src/components/Modal.tsx": `import type { ReactNode } from "react";

interface ModalProps {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
}

export default function Modal({ open, title, onClose, children }: ModalProps) {
  if (!open) return null;
  return (
    <div className="backdrop" onClick={onClose}>
      <div className="modal" onClick={(e) => e.stopPropagation()}>
        <header>
          <h2>{title}</h2>
          <button onClick={onClose}>×</button>
        </header>
        {children}
      </div>
    </div>
  );
}
`,
		"src/components/ContactForm.tsx": `import { useState } from "react";
import type { Contact } from "../api/contacts";

interface ContactFormProps {
  initial?: Contact;
  onSave: (c: Omit<Contact, "id">) => void;
}

export function ContactForm({ initial, onSave }: ContactFormProps) {
  const [name, setName] = useState(initial?.name ?? "");
  const [email, setEmail] = useState(initial?.email ?? "");
  const [phone, setPhone] = useState(initial?.phone ?? "");
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        onSave({ name, email, phone: phone || undefined });
      }}
    >
      <input value={name} onChange={(e) => setName(e.target.value)} placeholder="Name" required />
      <input value={email} onChange={(e) => setEmail(e.target.value)} placeholder="Email" type="email" required />
      <input value={phone} onChange={(e) => setPhone(e.target.value)} placeholder="Phone" />
      <button type="submit">Save</button>
    </form>
  );
}
`,
		"src/App.tsx": `import { useEffect, useState } from "react";
import Modal from "./components/Modal";
import { ContactForm } from "./components/ContactForm";
import { loadContacts, saveContacts, type Contact } from "./api/contacts";

export default function App() {
  const [contacts, setContacts] = useState<Contact[]>(loadContacts);
  const [editing, setEditing] = useState<Contact | null>(null);
  const [creating, setCreating] = useState(false);

  useEffect(() => saveContacts(contacts), [contacts]);

  const save = (data: Omit<Contact, "id">) => {
    if (editing) {
      setContacts(contacts.map((c) => (c.id === editing.id ? { ...data, id: editing.id } : c)));
    } else {
      setContacts([...contacts, { ...data, id: Date.now() }]);
    }
    setEditing(null);
    setCreating(false);
  };

  const close = () => {
    setEditing(null);
    setCreating(false);
  };

  return (
    <div className="contacts">
      <h1>Contacts</h1>
      <button onClick={() => setCreating(true)}>New contact</button>
      <ul>
        {contacts.map((c) => (
          <li key={c.id}>
            <strong>{c.name}</strong> <a href={` + "`mailto:${c.email}`" + `}>{c.email}</a>
            <button onClick={() => setEditing(c)}>Edit</button>
            <button onClick={() => setContacts(contacts.filter((x) => x.id !== c.id))}>Delete</button>
          </li>
        ))}
      </ul>
      <Modal open={creating || editing !== null} title={editing ? "Edit contact" : "New contact"} onClose={close}>
        <ContactForm key={editing?.id ?? "new"} initial={editing ?? undefined} onSave={save} />
      </Modal>
    </div>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "state-null", about: "useState(null) for the contact being edited",
			edits: []ed{{"src/App.tsx", "useState<Contact | null>(null)", "useState(null)"}},
			wants: []want{{"src/App.tsx", "contains", "useState<Contact | null>(null)"}}},
		{id: "named-default", about: "imports the default-exported Modal by name",
			edits: []ed{{"src/App.tsx", `import Modal from "./components/Modal";`, `import { Modal } from "./components/Modal";`}},
			wants: []want{{"src/App.tsx", "contains", `import Modal from "./components/Modal"`}}},
		{id: "singular-module", about: "imports ./api/contact for ./api/contacts",
			edits: []ed{{"src/App.tsx", `from "./api/contacts"`, `from "./api/contact"`}},
			wants: []want{{"src/App.tsx", "contains", `from "./api/contacts"`}}},
		{id: "class-attr", about: "writes class on the root div",
			edits: []ed{{"src/App.tsx", `<div className="contacts">`, `<div class="contacts">`}},
			wants: []want{{"src/App.tsx", "contains", `<div className="contacts">`}}},
		{id: "unused-import", about: "imports useMemo where nothing uses it",
			edits: []ed{{"src/App.tsx", `import { useEffect, useState } from "react";`, `import { useEffect, useState, useMemo } from "react";`}},
			wants: []want{{"src/App.tsx", "contains", `import { useEffect, useState } from "react"`}}},
		{id: "void-input", about: "leaves an <input> open",
			edits: []ed{{"src/components/ContactForm.tsx", `placeholder="Phone" />`, `placeholder="Phone">`}},
			wants: []want{{"src/components/ContactForm.tsx", "contains", `placeholder="Phone" />`}}},
		{id: "untyped-submit", about: "moves the submit handler out of JSX and loses its type",
			edits: []ed{{"src/components/ContactForm.tsx", "    <form\n      onSubmit={(e) => {\n        e.preventDefault();\n        onSave({ name, email, phone: phone || undefined });\n      }}\n    >", "    <form onSubmit={handleSubmit}>"}, {"src/components/ContactForm.tsx", "  return (\n", "  const handleSubmit = (e) => {\n    e.preventDefault();\n    onSave({ name, email, phone: phone || undefined });\n  };\n  return (\n"}},
			wants: []want{{"src/components/ContactForm.tsx", "contains", "const handleSubmit = (e: FormEvent<HTMLFormElement>) => {"}}},
		{id: "nullable-key", about: "reads editing.id where editing may be null",
			edits: []ed{{"src/App.tsx", `key={editing?.id ?? "new"}`, `key={editing.id ?? "new"}`}},
			wants: []want{{"src/App.tsx", "contains", `key={editing?.id ?? "new"}`}}},
		{id: "missing-stats", about: "imports a ContactStats component that does not exist", intent: true,
			edits: []ed{{"src/App.tsx", "import { ContactForm } from \"./components/ContactForm\";", "import { ContactForm } from \"./components/ContactForm\";\nimport ContactStats from \"./components/ContactStats\";"}, {"src/App.tsx", "      <h1>Contacts</h1>\n", "      <h1>Contacts</h1>\n      <ContactStats contacts={contacts} />\n"}}},
	},
}
