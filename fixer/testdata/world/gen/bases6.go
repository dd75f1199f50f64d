//go:build ignore

package main

// Base 17: the fourth batch, held out. Written (and its score recorded in
// the commit that added it) before looking at which rules handle its
// mistakes, in styles the corpus had little of: class components (an
// error boundary, a counter with class-property handlers), custom hooks
// (a localStorage hook returning a tuple, a generic debounce hook), a
// context provider with its consumer hook, zod schemas, date-fns in v2
// and v4 styles, and a fetch in an effect.

var meetupsMixed = base{
	name: "meetups",
	set:  "heldout-4",
	files: map[string]string{
		"package.json":      pkg("meetup-planner", "date-fns\": \"^4.0.0", "zod\": \"^4.0.0"),
		"tsconfig.json":     tsconfigPlain,
		"src/vite-env.d.ts": "/// <reference types=\"vite/client\" />\n",
		"src/main.tsx":      mainStd,
		"src/types.ts": `import { z } from "zod";

export const meetupSchema = z.object({
  id: z.string(),
  title: z.string().min(1),
  startsAt: z.string(),
  capacity: z.number().int().positive(),
  attendees: z.array(z.string()),
});

export type Meetup = z.infer<typeof meetupSchema>;

export const meetupListSchema = z.array(meetupSchema);
`,
		"src/api.ts": `import { meetupListSchema, type Meetup } from "./types";

export async function fetchMeetups(): Promise<Meetup[]> {
  const res = await fetch("/api/meetups");
  if (!res.ok) throw new Error("could not load meetups: " + res.status);
  return meetupListSchema.parse(await res.json());
}
`,
		"src/lib/dates.ts": `import { formatDistanceToNow } from "date-fns";

export function relative(iso: string): string {
  return formatDistanceToNow(new Date(iso), { addSuffix: true });
}
`,
		"src/hooks/useLocalStorage.ts": `import { useEffect, useState } from "react";

export function useLocalStorage<T>(key: string, initial: T) {
  const [value, setValue] = useState<T>(() => {
    const raw = localStorage.getItem(key);
    if (raw === null) return initial;
    try {
      return JSON.parse(raw) as T;
    } catch (err) {
      console.warn("ignoring the stored " + key + ": " + (err instanceof Error ? err.message : String(err)));
      return initial;
    }
  });
  useEffect(() => {
    localStorage.setItem(key, JSON.stringify(value));
  }, [key, value]);
  return [value, setValue] as const;
}
`,
		"src/hooks/useDebounced.ts": `import { useEffect, useState } from "react";

export function useDebounced<T>(value: T, delayMs: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return debounced;
}
`,
		"src/theme.tsx": `import { createContext, useContext, useState, type ReactNode } from "react";

type Theme = "light" | "dark";

interface ThemeValue {
  theme: Theme;
  toggle: () => void;
}

const ThemeContext = createContext<ThemeValue | null>(null);

export function ThemeProvider({ children }: { children: ReactNode }) {
  const [theme, setTheme] = useState<Theme>("light");
  const toggle = () => setTheme((t) => (t === "light" ? "dark" : "light"));
  return <ThemeContext.Provider value={{ theme, toggle }}>{children}</ThemeContext.Provider>;
}

export function useTheme(): ThemeValue {
  const value = useContext(ThemeContext);
  if (!value) throw new Error("useTheme must be used inside ThemeProvider");
  return value;
}
`,
		"src/components/ErrorBoundary.tsx": `import { Component, type ErrorInfo, type ReactNode } from "react";

interface Props {
  children: ReactNode;
  fallback: ReactNode;
}

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error("meetups crashed", error, info.componentStack);
  }

  render() {
    if (this.state.error) return this.props.fallback;
    return this.props.children;
  }
}
`,
		"src/components/RsvpCounter.tsx": `import { Component, type ChangeEvent } from "react";

interface Props {
  capacity: number;
  onChange?: (count: number) => void;
}

interface State {
  count: number;
  note: string;
}

export class RsvpCounter extends Component<Props, State> {
  state: State = { count: 0, note: "" };

  handleNote = (e: ChangeEvent<HTMLInputElement>) => {
    this.setState({ note: e.target.value });
  };

  increment = () => {
    const count = Math.min(this.props.capacity, this.state.count + 1);
    this.setState({ count });
    this.props.onChange?.(count);
  };

  render() {
    return (
      <div className="rsvp">
        <button type="button" onClick={this.increment}>
          Going ({this.state.count}/{this.props.capacity})
        </button>
        <input value={this.state.note} onChange={this.handleNote} placeholder="Note" />
      </div>
    );
  }
}
`,
		"src/components/MeetupCard.tsx": `import { differenceInCalendarDays, format, parseISO } from "date-fns";
import type { Meetup } from "../types";
import { relative } from "../lib/dates";
import { RsvpCounter } from "./RsvpCounter";

interface Props {
  meetup: Meetup;
  today: Date;
}

export function MeetupCard({ meetup, today }: Props) {
  const starts = parseISO(meetup.startsAt);
  const days = differenceInCalendarDays(starts, today);
  return (
    <article className="meetup">
      <h2>{meetup.title}</h2>
      <p className="when">
        {format(starts, "EEE d MMM, HH:mm")} ({relative(meetup.startsAt)}) · {days < 0 ? "past" : days + " days to go"}
      </p>
      <RsvpCounter capacity={meetup.capacity - meetup.attendees.length} />
    </article>
  );
}
`,
		"src/App.tsx": `import { useEffect, useState } from "react";
import { fetchMeetups } from "./api";
import type { Meetup } from "./types";
import { MeetupCard } from "./components/MeetupCard";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { useDebounced } from "./hooks/useDebounced";
import { useLocalStorage } from "./hooks/useLocalStorage";
import { ThemeProvider, useTheme } from "./theme";

function Meetups() {
  const [meetups, setMeetups] = useState<Meetup[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useLocalStorage("meetups-query", "");
  const debounced = useDebounced(query, 250);
  const { theme, toggle } = useTheme();

  useEffect(() => {
    let cancelled = false;
    async function load() {
      try {
        const list = await fetchMeetups();
        if (!cancelled) setMeetups(list);
      } catch (err) {
        if (!cancelled) setError(String(err));
      }
    }
    load();
    return () => {
      cancelled = true;
    };
  }, []);

  const shown = meetups.filter((m) => m.title.toLowerCase().includes(debounced.toLowerCase()));
  return (
    <main className={"app " + theme}>
      <header>
        <h1>Meetups</h1>
        <button type="button" onClick={toggle}>
          {theme === "light" ? "Dark" : "Light"} mode
        </button>
      </header>
      <input value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Search" />
      {error && <p className="error">{error}</p>}
      {shown.map((m) => (
        <MeetupCard key={m.id} meetup={m} today={new Date()} />
      ))}
    </main>
  );
}

export default function App() {
  return (
    <ErrorBoundary fallback={<p>Something went wrong.</p>}>
      <ThemeProvider>
        <Meetups />
      </ThemeProvider>
    </ErrorBoundary>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "react-dom-root", about: "imports createRoot from react-dom (React 17 path) instead of react-dom/client",
			edits: []ed{{"src/main.tsx", `import { createRoot } from "react-dom/client";`, `import { createRoot } from "react-dom";`}},
			wants: []want{{"src/main.tsx", "contains", `import { createRoot } from "react-dom/client";`}}},
		{id: "zod-no-import", about: "uses z for the schemas without importing it from zod (a declared dependency)",
			edits: []ed{{"src/types.ts", "import { z } from \"zod\";\n\n", ""}},
			wants: []want{{"src/types.ts", "matches", `import \{ z \} from "zod";`}}},
		{id: "tuple-no-const", about: "returns the localStorage hook's [value, setter] without as const, so callers get a union array",
			edits: []ed{{"src/hooks/useLocalStorage.ts", "return [value, setValue] as const;", "return [value, setValue];"}},
			wants: []want{{"src/hooks/useLocalStorage.ts", "matches", `return \[value, setValue\] as const;|useLocalStorage<T>\(key: string, initial: T\): (readonly )?\[`}}},
		{id: "untyped-hook", about: "declares the debounce hook without its type parameter or parameter types; its one caller passes a string and a number",
			edits: []ed{{"src/hooks/useDebounced.ts", "export function useDebounced<T>(value: T, delayMs: number): T {", "export function useDebounced(value, delayMs) {"}},
			wants: []want{{"src/hooks/useDebounced.ts", "matches", `useDebounced(<T>)?\(value: (string|T), delayMs: number\)`}}},
		{id: "provider-untyped-children", about: "destructures the provider's children without a props type",
			edits: []ed{{"src/theme.tsx", "export function ThemeProvider({ children }: { children: ReactNode }) {", "export function ThemeProvider({ children }) {"}},
			wants: []want{{"src/theme.tsx", "matches", `ThemeProvider\(\{ children \}: \{ children: (React\.)?ReactNode;? \}\)`}}},
		{id: "context-no-default", about: "creates the context without a default value (React 19's types require one; the type allows null)",
			edits: []ed{{"src/theme.tsx", "createContext<ThemeValue | null>(null);", "createContext<ThemeValue | null>();"}},
			wants: []want{{"src/theme.tsx", "contains", "createContext<ThemeValue | null>(null);"}}},
		{id: "class-untyped-catch", about: "declares the error boundary's componentDidCatch parameters without types",
			edits: []ed{{"src/components/ErrorBoundary.tsx", "componentDidCatch(error: Error, info: ErrorInfo) {", "componentDidCatch(error, info) {"}},
			wants: []want{{"src/components/ErrorBoundary.tsx", "matches", `componentDidCatch\(error: Error, info: (React\.)?ErrorInfo\)`}}},
		{id: "class-untyped-handler", about: "declares a class-property change handler's event parameter without a type; it is passed to an input's onChange",
			edits: []ed{{"src/components/RsvpCounter.tsx", "handleNote = (e: ChangeEvent<HTMLInputElement>) => {", "handleNote = (e) => {"}},
			wants: []want{{"src/components/RsvpCounter.tsx", "matches", `handleNote = \(e: (React\.)?ChangeEvent<HTMLInputElement>\) =>`}}},
		{id: "optional-callback", about: "calls the optional onChange prop without checking it",
			edits: []ed{{"src/components/RsvpCounter.tsx", "this.props.onChange?.(count);", "this.props.onChange(count);"}},
			wants: []want{{"src/components/RsvpCounter.tsx", "matches", `this\.props\.onChange\?\.\(count\);|if \(this\.props\.onChange\) this\.props\.onChange\(count\);`}}},
		{id: "datefns-missing-name", about: "calls differenceInCalendarDays without importing it from date-fns (the file imports other date-fns names)",
			edits: []ed{{"src/components/MeetupCard.tsx", `import { differenceInCalendarDays, format, parseISO } from "date-fns";`, `import { format, parseISO } from "date-fns";`}},
			wants: []want{{"src/components/MeetupCard.tsx", "matches", `import \{[^}]*\bdifferenceInCalendarDays\b[^}]*\} from "date-fns(/differenceInCalendarDays)?";`}}},
		{id: "datefns-default", about: "imports formatDistanceToNow date-fns v2 style, as the default export of its own path (v4 has named exports only)",
			edits: []ed{{"src/lib/dates.ts", `import { formatDistanceToNow } from "date-fns";`, `import formatDistanceToNow from "date-fns/formatDistanceToNow";`}},
			wants: []want{{"src/lib/dates.ts", "matches", `import \{ formatDistanceToNow \} from "date-fns(/formatDistanceToNow)?";`}}},
		{id: "effect-returns-promise", about: "writes the data effect as an arrow returning the fetch promise (an effect may return only a cleanup)",
			edits: []ed{{"src/App.tsx", `  useEffect(() => {
    let cancelled = false;
    async function load() {
      try {
        const list = await fetchMeetups();
        if (!cancelled) setMeetups(list);
      } catch (err) {
        if (!cancelled) setError(String(err));
      }
    }
    load();
    return () => {
      cancelled = true;
    };
  }, []);`, `  useEffect(() => fetchMeetups().then(setMeetups, (err: Error) => setError(err.message)), []);`}},
			wants: []want{{"src/App.tsx", "matches", `useEffect\(\(\) => \{\s*(void )?fetchMeetups\(\)\.then\(setMeetups, \(err: Error\) => setError\(err\.message\)\);?\s*\}, \[\]\);`}}},
		{id: "catch-unknown", about: "reads err.message on the catch variable (unknown under strict)",
			edits: []ed{{"src/hooks/useLocalStorage.ts", `(err instanceof Error ? err.message : String(err))`, `err.message`}},
			wants: []want{{"src/hooks/useLocalStorage.ts", "matches", `err instanceof Error \? err\.message : String\(err\)|\(err as Error\)\.message`}}},
		{id: "attendee-count", about: "reads meetup.attendeeCount; Meetup has an attendees array (whether its length was meant is the author's call)", intent: true,
			edits: []ed{{"src/components/MeetupCard.tsx", "meetup.capacity - meetup.attendees.length", "meetup.capacity - meetup.attendeeCount"}}},
		{id: "provider-no-toggle", about: "leaves toggle out of the provider's value and never defines it (how the theme changes is the author's call)", intent: true,
			edits: []ed{{"src/theme.tsx", "  const toggle = () => setTheme((t) => (t === \"light\" ? \"dark\" : \"light\"));\n  return <ThemeContext.Provider value={{ theme, toggle }}>", "  return <ThemeContext.Provider value={{ theme }}>"}}},
		{id: "class-state-typo", about: "reads this.state.eror in the error boundary's render",
			edits: []ed{{"src/components/ErrorBoundary.tsx", "if (this.state.error) return", "if (this.state.eror) return"}},
			wants: []want{{"src/components/ErrorBoundary.tsx", "contains", "if (this.state.error) return"}}},
	},
}
