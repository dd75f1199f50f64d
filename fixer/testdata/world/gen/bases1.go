//go:build ignore

package main

// Bases 1–5. Each app is written from scratch, not from stich's scaffold
// templates: its own layout, libraries and style.

var tsconfigPlain = `{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022", "DOM", "DOM.Iterable"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "jsx": "react-jsx",
    "strict": true,
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "skipLibCheck": true,
    "isolatedModules": true,
    "noEmit": true
  },
  "include": ["src"]
}
`

var tsconfigVerbatim = `{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022", "DOM", "DOM.Iterable"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "jsx": "react-jsx",
    "strict": true,
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "verbatimModuleSyntax": true,
    "skipLibCheck": true,
    "noEmit": true
  },
  "include": ["src"]
}
`

var tsconfigAlias = `{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022", "DOM", "DOM.Iterable"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "jsx": "react-jsx",
    "strict": true,
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "skipLibCheck": true,
    "noEmit": true,
    "paths": { "@/*": ["./src/*"] }
  },
  "include": ["src"]
}
`

var tsconfigAliasVerbatim = `{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022", "DOM", "DOM.Iterable"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "jsx": "react-jsx",
    "strict": true,
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "verbatimModuleSyntax": true,
    "skipLibCheck": true,
    "noEmit": true,
    "paths": { "@/*": ["./src/*"] }
  },
  "include": ["src"]
}
`

func pkg(name string, deps ...string) string {
	s := "{\n  \"name\": \"" + name + "\",\n  \"private\": true,\n  \"version\": \"0.1.0\",\n  \"type\": \"module\",\n  \"scripts\": {\n    \"dev\": \"vite\",\n    \"build\": \"tsc && vite build\"\n  },\n  \"dependencies\": {\n"
	all := append([]string{"react\": \"^19.0.0", "react-dom\": \"^19.0.0"}, deps...)
	for i, d := range all {
		s += "    \"" + d + "\""
		if i < len(all)-1 {
			s += ","
		}
		s += "\n"
	}
	s += "  },\n  \"devDependencies\": {\n    \"@types/react\": \"^19.0.0\",\n    \"@types/react-dom\": \"^19.0.0\",\n    \"typescript\": \"^7.0.0\",\n    \"vite\": \"^8.0.0\"\n  }\n}\n"
	return s
}

const mainStd = `import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import App from "./App";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
`

var todoZustand = base{
	name: "todo",
	files: map[string]string{
		"package.json":      pkg("todo-zustand", "nanoid\": \"^5.0.0", "zustand\": \"^5.0.0"),
		"tsconfig.json":     tsconfigPlain,
		"src/vite-env.d.ts": "/// <reference types=\"vite/client\" />\n",
		"src/index.css":     "body {\n  margin: 0;\n  font-family: system-ui, sans-serif;\n}\n",
		"src/main.tsx":      mainStd,
		"src/types/todo.ts": "export type Filter = \"all\" | \"active\" | \"done\";\n\nexport interface Todo {\n  id: string;\n  title: string;\n  done: boolean;\n  createdAt: number;\n}\n",
		"src/store/useTodoStore.ts": `import { create } from "zustand";
import { nanoid } from "nanoid";
import type { Filter, Todo } from "../types/todo";

interface TodoState {
  todos: Todo[];
  filter: Filter;
  add: (title: string) => void;
  toggle: (id: string) => void;
  remove: (id: string) => void;
  setFilter: (filter: Filter) => void;
}

export const useTodoStore = create<TodoState>()((set) => ({
  todos: [],
  filter: "all",
  add: (title) =>
    set((s) => ({ todos: [...s.todos, { id: nanoid(), title, done: false, createdAt: Date.now() }] })),
  toggle: (id) => set((s) => ({ todos: s.todos.map((t) => (t.id === id ? { ...t, done: !t.done } : t)) })),
  remove: (id) => set((s) => ({ todos: s.todos.filter((t) => t.id !== id) })),
  setFilter: (filter) => set({ filter }),
}));
`,
		"src/components/TodoItem.tsx": `import type { Todo } from "../types/todo";
import { useTodoStore } from "../store/useTodoStore";

export function TodoItem({ todo }: { todo: Todo }) {
  const toggle = useTodoStore((s) => s.toggle);
  const remove = useTodoStore((s) => s.remove);
  return (
    <li className={todo.done ? "todo done" : "todo"}>
      <label>
        <input type="checkbox" checked={todo.done} onChange={() => toggle(todo.id)} />
        {todo.title}
      </label>
      <button onClick={() => remove(todo.id)} aria-label="Delete">
        ×
      </button>
    </li>
  );
}
`,
		"src/components/TodoList.tsx": `import { useTodoStore } from "../store/useTodoStore";
import { TodoItem } from "./TodoItem";

export default function TodoList() {
  const todos = useTodoStore((s) => s.todos);
  const filter = useTodoStore((s) => s.filter);
  const visible = todos.filter((t) => (filter === "all" ? true : filter === "done" ? t.done : !t.done));
  if (visible.length === 0) return <p className="empty">Nothing here.</p>;
  return (
    <ul className="todos">
      {visible.map((t) => (
        <TodoItem key={t.id} todo={t} />
      ))}
    </ul>
  );
}
`,
		"src/components/AddTodo.tsx": `import { useState } from "react";
import type { FormEvent } from "react";
import { useTodoStore } from "../store/useTodoStore";

export function AddTodo() {
  const [title, setTitle] = useState("");
  const add = useTodoStore((s) => s.add);
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (!title.trim()) return;
    add(title.trim());
    setTitle("");
  };
  return (
    <form onSubmit={submit} className="add">
      <input value={title} onChange={(e) => setTitle(e.target.value)} placeholder="What needs doing?" />
      <button type="submit">Add</button>
    </form>
  );
}
`,
		"src/App.tsx": `import { AddTodo } from "./components/AddTodo";
import TodoList from "./components/TodoList";
import { useTodoStore } from "./store/useTodoStore";
import "./index.css";

export default function App() {
  const setFilter = useTodoStore((s) => s.setFilter);
  return (
    <main className="app">
      <h1>Todos</h1>
      <AddTodo />
      <nav className="filters">
        <button onClick={() => setFilter("all")}>All</button>
        <button onClick={() => setFilter("active")}>Active</button>
        <button onClick={() => setFilter("done")}>Done</button>
      </nav>
      <TodoList />
    </main>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "import-case", about: "imports a component with the wrong letter case",
			edits: []ed{{"src/App.tsx", `import TodoList from "./components/TodoList";`, `import TodoList from "./components/todoList";`}},
			wants: []want{{"src/App.tsx", "contains", `from "./components/TodoList"`}}},
		{id: "plural-folder", about: "imports the store from a pluralised folder",
			edits: []ed{{"src/components/TodoList.tsx", `from "../store/useTodoStore"`, `from "../stores/useTodoStore"`}},
			wants: []want{{"src/components/TodoList.tsx", "contains", `from "../store/useTodoStore"`}}},
		{id: "missing-hook-import", about: "uses useState without importing it",
			edits: []ed{{"src/components/AddTodo.tsx", "import { useState } from \"react\";\n", ""}},
			wants: []want{{"src/components/AddTodo.tsx", "matches", `import \{[^}]*\buseState\b[^}]*\} from "react"`}}},
		{id: "undeclared-package", about: "imports nanoid without declaring it in package.json",
			edits: []ed{{"package.json", "    \"nanoid\": \"^5.0.0\",\n", ""}},
			wants: []want{{"package.json", "contains", `"nanoid": "^5.1.12"`}}},
		{id: "unused-import", about: "imports useState where nothing uses it",
			edits: []ed{{"src/components/TodoItem.tsx", "import type { Todo }", "import { useState } from \"react\";\nimport type { Todo }"}},
			wants: []want{{"src/components/TodoItem.tsx", "lacks", "useState"}}},
		{id: "class-attr", about: "writes class instead of className",
			edits: []ed{{"src/components/TodoList.tsx", `<ul className="todos">`, `<ul class="todos">`}},
			wants: []want{{"src/components/TodoList.tsx", "contains", `<ul className="todos">`}}},
		{id: "unused-const", about: "leaves an unused constant",
			edits: []ed{{"src/components/TodoList.tsx", "export default function TodoList() {", "const MAX_VISIBLE = 50;\n\nexport default function TodoList() {"}},
			wants: []want{{"src/components/TodoList.tsx", "lacks", "MAX_VISIBLE"}}},
		{id: "void-input", about: "leaves an <input> open as in HTML",
			edits: []ed{{"src/components/AddTodo.tsx", `placeholder="What needs doing?" />`, `placeholder="What needs doing?">`}},
			wants: []want{{"src/components/AddTodo.tsx", "contains", `placeholder="What needs doing?" />`}}},
		{id: "unused-index", about: "keeps an unused index parameter in a map callback",
			edits: []ed{{"src/components/TodoList.tsx", "visible.map((t) => (", "visible.map((t, index) => ("}},
			wants: []want{{"src/components/TodoList.tsx", "contains", "visible.map((t) => ("}}},
		{id: "missing-footer", about: "renders a Footer component that was never written", intent: true,
			edits: []ed{{"src/App.tsx", "      <TodoList />\n", "      <TodoList />\n      <Footer />\n"}, {"src/App.tsx", "import \"./index.css\";", "import \"./index.css\";\nimport Footer from \"./components/Footer\";"}}},
		{id: "renamed-prop", about: "passes the todo under a prop name the component does not have", intent: true,
			edits: []ed{{"src/components/TodoList.tsx", "<TodoItem key={t.id} todo={t} />", "<TodoItem key={t.id} item={t} />"}}},
	},
}

var blogRouter = base{
	name: "blog",
	files: map[string]string{
		"package.json":  pkg("garden-blog", "date-fns\": \"^4.0.0", "react-router-dom\": \"^7.0.0"),
		"tsconfig.json": tsconfigVerbatim,
		"src/main.tsx": `import React from "react";
import ReactDOM from "react-dom/client";
import { BrowserRouter } from "react-router-dom";
import { App } from "./App";

ReactDOM.createRoot(document.getElementById("root") as HTMLElement).render(
  <React.StrictMode>
    <BrowserRouter>
      <App />
    </BrowserRouter>
  </React.StrictMode>,
);
`,
		"src/data/posts.ts": `export type Post = {
  slug: string;
  title: string;
  body: string;
  publishedAt: string;
  tags: string[];
};

export const posts: Post[] = [
  { slug: "hello-world", title: "Hello, world", body: "The first post.", publishedAt: "2024-03-01", tags: ["intro"] },
  { slug: "on-gardens", title: "On gardens", body: "Tomatoes need sun.", publishedAt: "2024-04-12", tags: ["garden", "life"] },
];

export function findPost(slug: string): Post | undefined {
  return posts.find((p) => p.slug === slug);
}
`,
		"src/lib/format-date.ts": `import { format, parseISO } from "date-fns";

export function formatDate(iso: string): string {
  return format(parseISO(iso), "MMM d, yyyy");
}
`,
		"src/components/PostCard.tsx": `import { Link } from "react-router-dom";
import type { Post } from "../data/posts";
import { formatDate } from "../lib/format-date";

type PostCardProps = {
  post: Post;
};

export function PostCard({ post }: PostCardProps) {
  return (
    <article className="card">
      <h2>
        <Link to={` + "`/posts/${post.slug}`" + `}>{post.title}</Link>
      </h2>
      <time dateTime={post.publishedAt}>{formatDate(post.publishedAt)}</time>
      <ul className="tags">
        {post.tags.map((tag) => (
          <li key={tag}>#{tag}</li>
        ))}
      </ul>
    </article>
  );
}
`,
		"src/pages/HomePage.tsx": `import { posts } from "../data/posts";
import { PostCard } from "../components/PostCard";

export default function HomePage() {
  return (
    <section>
      <h1>Notes from the garden</h1>
      {posts.map((post) => (
        <PostCard key={post.slug} post={post} />
      ))}
    </section>
  );
}
`,
		"src/pages/PostPage.tsx": `import { useParams, Link } from "react-router-dom";
import { findPost } from "../data/posts";
import { formatDate } from "../lib/format-date";

export default function PostPage() {
  const { slug } = useParams();
  const post = slug ? findPost(slug) : undefined;
  if (!post) {
    return (
      <p>
        Not found. <Link to="/">Back home</Link>
      </p>
    );
  }
  return (
    <article>
      <h1>{post.title}</h1>
      <p className="meta">{formatDate(post.publishedAt)}</p>
      <p>{post.body}</p>
    </article>
  );
}
`,
		"src/App.tsx": `import { Routes, Route } from "react-router-dom";
import HomePage from "./pages/HomePage";
import PostPage from "./pages/PostPage";
import { Layout } from "./components/Layout";

export function App() {
  return (
    <Layout>
      <Routes>
        <Route path="/" element={<HomePage />} />
        <Route path="/posts/:slug" element={<PostPage />} />
      </Routes>
    </Layout>
  );
}
`,
		"src/components/Layout.tsx": `import type { ReactNode } from "react";
import { Link } from "react-router-dom";

interface LayoutProps {
  children: ReactNode;
}

export function Layout({ children }: LayoutProps) {
  return (
    <div className="layout">
      <header>
        <Link to="/">Garden notes</Link>
      </header>
      <main>{children}</main>
    </div>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "hyphen-camel", about: "imports format-date.ts as formatDate",
			edits: []ed{{"src/components/PostCard.tsx", `from "../lib/format-date"`, `from "../lib/formatDate"`}},
			wants: []want{{"src/components/PostCard.tsx", "contains", `from "../lib/format-date"`}}},
		{id: "wrong-module", about: "imports formatDate from a utils module that does not exist; lib/format-date exports it",
			edits: []ed{{"src/pages/PostPage.tsx", `import { formatDate } from "../lib/format-date";`, `import { formatDate } from "../utils/date";`}},
			wants: []want{{"src/pages/PostPage.tsx", "contains", `import { formatDate } from "../lib/format-date"`}, {"src/pages/PostPage.tsx", "lacks", "Placeholder"}}},
		{id: "children-props", about: "reads children from props whose type lacks them",
			edits: []ed{{"src/components/Layout.tsx", "interface LayoutProps {\n  children: ReactNode;\n}", "interface LayoutProps {\n  title?: string;\n}"}, {"src/components/Layout.tsx", "import type { ReactNode } from \"react\";\n", ""}},
			wants: []want{{"src/components/Layout.tsx", "contains", "children?: ReactNode;"}, {"src/components/Layout.tsx", "matches", `import type \{ ReactNode \} from "react"`}}},
		{id: "named-default", about: "imports a default-exported page by name",
			edits: []ed{{"src/App.tsx", `import HomePage from "./pages/HomePage";`, `import { HomePage } from "./pages/HomePage";`}},
			wants: []want{{"src/App.tsx", "contains", `import HomePage from "./pages/HomePage"`}}},
		{id: "verbatim-type", about: "imports a type as a value under verbatimModuleSyntax",
			edits: []ed{{"src/components/PostCard.tsx", `import type { Post } from "../data/posts";`, `import { Post } from "../data/posts";`}},
			wants: []want{{"src/components/PostCard.tsx", "contains", `import type { Post } from "../data/posts"`}}},
		{id: "undeclared-package", about: "imports date-fns without declaring it",
			edits: []ed{{"package.json", "    \"date-fns\": \"^4.0.0\",\n", ""}},
			wants: []want{{"package.json", "contains", `"date-fns": "^4.4.0"`}}},
		{id: "unused-type", about: "declares a type nothing uses",
			edits: []ed{{"src/data/posts.ts", "export const posts", "type Draft = Omit<Post, \"publishedAt\">;\n\nexport const posts"}},
			wants: []want{{"src/data/posts.ts", "lacks", "Draft"}}},
		{id: "void-hr", about: "writes <hr> as in HTML",
			edits: []ed{{"src/pages/PostPage.tsx", "      <p>{post.body}</p>", "      <hr>\n      <p>{post.body}</p>"}},
			wants: []want{{"src/pages/PostPage.tsx", "contains", "<hr />"}}},
		{id: "reactdom-render", about: "mounts with ReactDOM.render, removed in React 19",
			edits: []ed{{"src/main.tsx", "import ReactDOM from \"react-dom/client\";", "import ReactDOM from \"react-dom\";"}, {"src/main.tsx", "ReactDOM.createRoot(document.getElementById(\"root\") as HTMLElement).render(", "ReactDOM.render("}, {"src/main.tsx", "  </React.StrictMode>,\n);", "  </React.StrictMode>,\n  document.getElementById(\"root\"),\n);"}},
			wants: []want{{"src/main.tsx", "matches", `createRoot\(document\.getElementById\("root"\)!\)\.render\(`}, {"src/main.tsx", "contains", `from "react-dom/client"`}, {"src/main.tsx", "lacks", `"react-dom";`}}},
		{id: "missing-pagination", about: "renders a Pagination component nobody wrote", intent: true,
			edits: []ed{{"src/pages/HomePage.tsx", "      ))}\n    </section>", "      ))}\n      <Pagination total={posts.length} />\n    </section>"}}},
	},
}

var weatherAlias = base{
	name: "weather",
	files: map[string]string{
		"package.json":  pkg("weather-dash"),
		"tsconfig.json": tsconfigAlias,
		"src/main.tsx":  mainStd,
		"src/types.ts": `export interface Forecast {
  city: string;
  temperature: number;
  condition: "sunny" | "cloudy" | "rain";
  humidity: number;
}

export enum Unit {
  Celsius = "C",
  Fahrenheit = "F",
}
`,
		"src/hooks/useFetch.ts": `import { useEffect, useState } from "react";

export function useFetch<T>(url: string) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    fetch(url)
      .then((res) => {
        if (!res.ok) throw new Error(` + "`HTTP ${res.status}`" + `);
        return res.json() as Promise<T>;
      })
      .then((json) => {
        if (!cancelled) setData(json);
      })
      .catch((err: unknown) => {
        if (!cancelled) setError(err instanceof Error ? err.message : String(err));
      })
      .finally(() => {
        if (!cancelled) setLoading(false);
      });
    return () => {
      cancelled = true;
    };
  }, [url]);

  return { data, error, loading };
}
`,
		"src/utils/temperature.ts": `import { Unit } from "@/types";

export function convert(celsius: number, unit: Unit): number {
  return unit === Unit.Celsius ? celsius : Math.round((celsius * 9) / 5 + 32);
}

export const formatTemp = (value: number, unit: Unit) => ` + "`${value}°${unit}`" + `;
`,
		"src/components/WeatherCard.tsx": `import { Unit, type Forecast } from "@/types";
import { convert, formatTemp } from "@/utils/temperature";

type Props = { forecast: Forecast; unit: Unit };

const icons: Record<Forecast["condition"], string> = { sunny: "☀️", cloudy: "☁️", rain: "🌧️" };

export const WeatherCard = ({ forecast, unit }: Props) => (
  <div className="weather-card">
    <span className="icon">{icons[forecast.condition]}</span>
    <h3>{forecast.city}</h3>
    <p className="temp">{formatTemp(convert(forecast.temperature, unit), unit)}</p>
    <p className="humidity">Humidity {forecast.humidity}%</p>
  </div>
);
`,
		"src/components/UnitToggle.tsx": `import { Unit } from "@/types";

interface UnitToggleProps {
  unit: Unit;
  onChange: (unit: Unit) => void;
}

export function UnitToggle({ unit, onChange }: UnitToggleProps) {
  return (
    <div className="unit-toggle" role="group">
      {[Unit.Celsius, Unit.Fahrenheit].map((u) => (
        <button key={u} className={u === unit ? "active" : ""} onClick={() => onChange(u)}>
          °{u}
        </button>
      ))}
    </div>
  );
}
`,
		"src/App.tsx": `import { useState } from "react";
import { useFetch } from "@/hooks/useFetch";
import { WeatherCard } from "@/components/WeatherCard";
import { UnitToggle } from "@/components/UnitToggle";
import { Unit, type Forecast } from "@/types";

export default function App() {
  const [unit, setUnit] = useState<Unit>(Unit.Celsius);
  const [query, setQuery] = useState("");
  const { data, error, loading } = useFetch<Forecast[]>("/api/forecast.json");
  const shown = (data ?? []).filter((f) => f.city.toLowerCase().includes(query.toLowerCase()));
  return (
    <div className="dashboard">
      <header>
        <h1>Weather</h1>
        <input value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Filter cities" />
        <UnitToggle unit={unit} onChange={setUnit} />
      </header>
      {loading && <p>Loading…</p>}
      {error && <p className="error">{error}</p>}
      <div className="grid">
        {shown.map((f) => (
          <WeatherCard key={f.city} forecast={f} unit={unit} />
        ))}
      </div>
    </div>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "type-import-value", about: "imports an enum with import type and uses it as a value",
			edits: []ed{{"src/App.tsx", `import { Unit, type Forecast } from "@/types";`, `import type { Unit, Forecast } from "@/types";`}},
			wants: []want{{"src/App.tsx", "matches", `import \{ (Unit, type Forecast|type Forecast, Unit) \} from "@/types"`}}},
		{id: "alias-typo", about: "misspells a module behind the @/ alias",
			edits: []ed{{"src/components/WeatherCard.tsx", `from "@/utils/temperature"`, `from "@/utils/temprature"`}},
			wants: []want{{"src/components/WeatherCard.tsx", "contains", `from "@/utils/temperature"`}}},
		{id: "state-null", about: "useState(null) for state later set to a value",
			edits: []ed{{"src/hooks/useFetch.ts", "useState<T | null>(null)", "useState(null)"}, {"src/hooks/useFetch.ts", "useState<string | null>(null)", "useState(null)"}},
			wants: []want{{"src/hooks/useFetch.ts", "contains", "useState<T | null>(null)"}, {"src/hooks/useFetch.ts", "contains", "useState<string | null>(null)"}}},
		{id: "singular-folder", about: "imports a hook from hook/ instead of hooks/",
			edits: []ed{{"src/App.tsx", `from "@/hooks/useFetch"`, `from "@/hook/useFetch"`}},
			wants: []want{{"src/App.tsx", "contains", `from "@/hooks/useFetch"`}}},
		{id: "untyped-handler", about: "writes an onChange handler with an untyped event",
			edits: []ed{{"src/App.tsx", `onChange={(e) => setQuery(e.target.value)}`, `onChange={handleQuery}`}, {"src/App.tsx", "  const shown =", "  const handleQuery = (e) => setQuery(e.target.value);\n  const shown ="}},
			wants: []want{{"src/App.tsx", "contains", "handleQuery = (e: ChangeEvent<HTMLInputElement>) =>"}, {"src/App.tsx", "matches", `import \{[^}]*type ChangeEvent[^}]*\} from "react"|import type \{ ChangeEvent \} from "react"`}}},
		{id: "default-named", about: "default-imports a named export",
			edits: []ed{{"src/App.tsx", `import { WeatherCard } from "@/components/WeatherCard";`, `import WeatherCard from "@/components/WeatherCard";`}},
			wants: []want{{"src/App.tsx", "contains", `import { WeatherCard } from "@/components/WeatherCard"`}}},
		{id: "unused-destructured", about: "destructures loading and stops using it",
			edits: []ed{{"src/App.tsx", "      {loading && <p>Loading…</p>}\n", ""}},
			wants: []want{{"src/App.tsx", "contains", "const { data, error } = useFetch"}}},
		{id: "undefined-tracker", about: "calls an analytics helper that exists nowhere", intent: true,
			edits: []ed{{"src/components/UnitToggle.tsx", "onClick={() => onChange(u)}", "onClick={() => {\n            trackEvent(\"unit\", u);\n            onChange(u);\n          }}"}}},
	},
}

var ticTacToe = base{
	name: "tictactoe",
	files: map[string]string{
		"package.json":  pkg("tic-tac-toe"),
		"tsconfig.json": tsconfigPlain,
		"src/main.tsx":  mainStd,
		"src/game/logic.ts": `export type Player = "X" | "O";
export type Cell = Player | null;
export type Board = Cell[];

const LINES = [
  [0, 1, 2],
  [3, 4, 5],
  [6, 7, 8],
  [0, 3, 6],
  [1, 4, 7],
  [2, 5, 8],
  [0, 4, 8],
  [2, 4, 6],
];

export function winnerOf(board: Board): Player | null {
  for (const [a, b, c] of LINES) {
    if (board[a] && board[a] === board[b] && board[a] === board[c]) return board[a];
  }
  return null;
}

export const emptyBoard = (): Board => Array(9).fill(null);
`,
		"src/game/reducer.ts": `import { emptyBoard, winnerOf, type Board, type Player } from "./logic";

export interface GameState {
  board: Board;
  next: Player;
  winner: Player | null;
  moves: number;
}

export type Action = { type: "play"; index: number } | { type: "reset" };

export const initialState: GameState = { board: emptyBoard(), next: "X", winner: null, moves: 0 };

export function gameReducer(state: GameState, action: Action): GameState {
  switch (action.type) {
    case "play": {
      if (state.winner || state.board[action.index]) return state;
      const board = state.board.slice();
      board[action.index] = state.next;
      return { board, next: state.next === "X" ? "O" : "X", winner: winnerOf(board), moves: state.moves + 1 };
    }
    case "reset":
      return { ...initialState, board: emptyBoard() };
  }
}
`,
		"src/components/Square.tsx": `import type { Cell } from "../game/logic";

interface SquareProps {
  value: Cell;
  onClick: () => void;
}

export default function Square({ value, onClick }: SquareProps) {
  return (
    <button className="square" onClick={onClick} disabled={value !== null}>
      {value}
    </button>
  );
}
`,
		"src/components/Board.tsx": `import Square from "./Square";
import type { Board as BoardCells } from "../game/logic";

export function Board({ cells, onPlay }: { cells: BoardCells; onPlay: (index: number) => void }) {
  return (
    <div className="board">
      {cells.map((cell, i) => (
        <Square key={i} value={cell} onClick={() => onPlay(i)} />
      ))}
    </div>
  );
}
`,
		"src/App.tsx": `import { useReducer } from "react";
import { Board } from "./components/Board";
import { gameReducer, initialState } from "./game/reducer";

function status(winner: string | null, next: string, moves: number) {
  if (winner) return ` + "`Winner: ${winner}`" + `;
  if (moves === 9) return "Draw";
  return ` + "`Next: ${next}`" + `;
}

export default function App() {
  const [state, dispatch] = useReducer(gameReducer, initialState);
  return (
    <div className="game">
      <h1>Tic-tac-toe</h1>
      <p className="status">{status(state.winner, state.next, state.moves)}</p>
      <Board cells={state.board} onPlay={(index) => dispatch({ type: "play", index })} />
      <button onClick={() => dispatch({ type: "reset" })}>New game</button>
    </div>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "missing-react-import", about: "uses useReducer without importing it",
			edits: []ed{{"src/App.tsx", "import { useReducer } from \"react\";\n", ""}},
			wants: []want{{"src/App.tsx", "matches", `import \{ useReducer \} from "react"`}}},
		{id: "plural-module", about: "imports ./game/reducers for ./game/reducer",
			edits: []ed{{"src/App.tsx", `from "./game/reducer"`, `from "./game/reducers"`}},
			wants: []want{{"src/App.tsx", "contains", `from "./game/reducer"`}}},
		{id: "named-default", about: "imports the default-exported Square by name",
			edits: []ed{{"src/components/Board.tsx", `import Square from "./Square";`, `import { Square } from "./Square";`}},
			wants: []want{{"src/components/Board.tsx", "contains", `import Square from "./Square"`}}},
		{id: "lowercase-event", about: "writes onclick as in HTML",
			edits: []ed{{"src/App.tsx", `<button onClick={() => dispatch({ type: "reset" })}>`, `<button onclick={() => dispatch({ type: "reset" })}>`}},
			wants: []want{{"src/App.tsx", "contains", `<button onClick={() => dispatch({ type: "reset" })}>`}}},
		{id: "unused-function", about: "leaves an unused helper function",
			edits: []ed{{"src/App.tsx", "export default function App() {", "function shuffle<T>(items: T[]): T[] {\n  return [...items].sort(() => Math.random() - 0.5);\n}\n\nexport default function App() {"}},
			wants: []want{{"src/App.tsx", "lacks", "shuffle"}}},
		{id: "exports-elsewhere", about: "imports the reducer from the logic module; reducer.ts exports it",
			edits: []ed{{"src/App.tsx", `import { gameReducer, initialState } from "./game/reducer";`, `import { gameReducer, initialState } from "./game/logic";`}},
			wants: []want{{"src/App.tsx", "matches", `import \{ (gameReducer, initialState|initialState, gameReducer) \} from "./game/reducer"`}, {"src/App.tsx", "lacks", `"./game/logic"`}, {"src/game/logic.ts", "lacks", "Placeholder"}}},
		{id: "missing-scoreboard", about: "imports a Scoreboard component that does not exist", intent: true,
			edits: []ed{{"src/App.tsx", "import { Board } from \"./components/Board\";", "import { Board } from \"./components/Board\";\nimport { Scoreboard } from \"./components/Scoreboard\";"}, {"src/App.tsx", "      <h1>Tic-tac-toe</h1>\n", "      <h1>Tic-tac-toe</h1>\n      <Scoreboard moves={state.moves} />\n"}}},
		{id: "mismatched-tag", about: "closes a div with </span>", intent: true, syntax: true,
			edits: []ed{{"src/components/Board.tsx", "      ))}\n    </div>", "      ))}\n    </span>"}}},
	},
}

var expenses = base{
	name: "expenses",
	files: map[string]string{
		"package.json":  pkg("expense-tracker"),
		"tsconfig.json": tsconfigVerbatim,
		"src/main.tsx":  mainStd,
		"src/models/expense.ts": `export type Category = "food" | "transport" | "fun" | "other";

export interface Expense {
  id: number;
  label: string;
  amount: number;
  category: Category;
  date: string;
}

export const CATEGORIES: Category[] = ["food", "transport", "fun", "other"];
`,
		"src/utils/currency.ts": `const formatter = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });

export function formatPrice(amount: number): string {
  return formatter.format(amount);
}

export function sum(values: number[]): number {
  return values.reduce((total, v) => total + v, 0);
}
`,
		"src/context/ExpensesContext.tsx": `import { createContext, useContext, useState, type ReactNode } from "react";
import type { Expense } from "../models/expense";

interface ExpensesValue {
  expenses: Expense[];
  addExpense: (e: Omit<Expense, "id">) => void;
  removeExpense: (id: number) => void;
}

const ExpensesContext = createContext<ExpensesValue | null>(null);

export function ExpensesProvider({ children }: { children: ReactNode }) {
  const [expenses, setExpenses] = useState<Expense[]>([]);
  const addExpense = (e: Omit<Expense, "id">) => setExpenses((list) => [...list, { ...e, id: Date.now() }]);
  const removeExpense = (id: number) => setExpenses((list) => list.filter((x) => x.id !== id));
  return <ExpensesContext.Provider value={{ expenses, addExpense, removeExpense }}>{children}</ExpensesContext.Provider>;
}

export function useExpenses(): ExpensesValue {
  const ctx = useContext(ExpensesContext);
  if (!ctx) throw new Error("useExpenses must be used inside ExpensesProvider");
  return ctx;
}
`,
		"src/components/ExpenseForm.tsx": `import { useState, type FormEvent } from "react";
import { CATEGORIES, type Category } from "../models/expense";
import { useExpenses } from "../context/ExpensesContext";

export function ExpenseForm() {
  const { addExpense } = useExpenses();
  const [label, setLabel] = useState("");
  const [amount, setAmount] = useState(0);
  const [category, setCategory] = useState<Category>("food");

  function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!label || amount <= 0) return;
    addExpense({ label, amount, category, date: new Date().toISOString().slice(0, 10) });
    setLabel("");
    setAmount(0);
  }

  return (
    <form className="expense-form" onSubmit={handleSubmit}>
      <label htmlFor="label">What</label>
      <input id="label" value={label} onChange={(e) => setLabel(e.target.value)} />
      <label htmlFor="amount">Amount</label>
      <input id="amount" type="number" value={amount} onChange={(e) => setAmount(e.target.valueAsNumber)} />
      <select value={category} onChange={(e) => setCategory(e.target.value as Category)}>
        {CATEGORIES.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
      <button type="submit">Add</button>
    </form>
  );
}
`,
		"src/components/ExpenseList.tsx": `import { useExpenses } from "../context/ExpensesContext";
import { formatPrice, sum } from "../utils/currency";

export function ExpenseList() {
  const { expenses, removeExpense } = useExpenses();
  return (
    <div>
      <table className="expenses">
        <tbody>
          {expenses.map((x) => (
            <tr key={x.id}>
              <td>{x.date}</td>
              <td>{x.label}</td>
              <td>{x.category}</td>
              <td className="num">{formatPrice(x.amount)}</td>
              <td>
                <button onClick={() => removeExpense(x.id)}>Remove</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="total">Total: {formatPrice(sum(expenses.map((x) => x.amount)))}</p>
    </div>
  );
}
`,
		"src/App.tsx": `import { ExpensesProvider } from "./context/ExpensesContext";
import { ExpenseForm } from "./components/ExpenseForm";
import { ExpenseList } from "./components/ExpenseList";

export default function App() {
  return (
    <ExpensesProvider>
      <h1>Expenses</h1>
      <ExpenseForm />
      <ExpenseList />
    </ExpensesProvider>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "string-number", about: "stores an input's string value in number state",
			edits: []ed{{"src/components/ExpenseForm.tsx", "setAmount(e.target.valueAsNumber)", "setAmount(e.target.value)"}},
			wants: []want{{"src/components/ExpenseForm.tsx", "contains", "setAmount(Number(e.target.value))"}}},
		{id: "for-attr", about: "writes for instead of htmlFor",
			edits: []ed{{"src/components/ExpenseForm.tsx", `<label htmlFor="label">What</label>`, `<label for="label">What</label>`}},
			wants: []want{{"src/components/ExpenseForm.tsx", "contains", `<label htmlFor="label">What</label>`}}},
		{id: "wrong-module", about: "imports currency helpers from a format module that does not exist",
			edits: []ed{{"src/components/ExpenseList.tsx", `from "../utils/currency"`, `from "../utils/format"`}},
			wants: []want{{"src/components/ExpenseList.tsx", "contains", `import { formatPrice, sum } from "../utils/currency"`}}},
		{id: "plural-folder", about: "imports the context from contexts/",
			edits: []ed{{"src/App.tsx", `from "./context/ExpensesContext"`, `from "./contexts/ExpensesContext"`}},
			wants: []want{{"src/App.tsx", "contains", `from "./context/ExpensesContext"`}}},
		{id: "verbatim-type", about: "imports an interface as a value under verbatimModuleSyntax",
			edits: []ed{{"src/context/ExpensesContext.tsx", `import type { Expense } from "../models/expense";`, `import { Expense } from "../models/expense";`}},
			wants: []want{{"src/context/ExpensesContext.tsx", "contains", `import type { Expense } from "../models/expense"`}}},
		{id: "unused-import", about: "imports useState where nothing uses it",
			edits: []ed{{"src/components/ExpenseList.tsx", "import { useExpenses }", "import { useState } from \"react\";\nimport { useExpenses }"}},
			wants: []want{{"src/components/ExpenseList.tsx", "lacks", "useState"}}},
		{id: "unused-const", about: "declares a constant it never uses",
			edits: []ed{{"src/components/ExpenseForm.tsx", "  const { addExpense } = useExpenses();\n", "  const { addExpense } = useExpenses();\n  const MAX_AMOUNT = 10000;\n"}},
			wants: []want{{"src/components/ExpenseForm.tsx", "lacks", "MAX_AMOUNT"}}},
		{id: "untyped-submit", about: "types the submit handler's event as nothing",
			edits: []ed{{"src/components/ExpenseForm.tsx", "function handleSubmit(event: FormEvent<HTMLFormElement>)", "function handleSubmit(event)"}, {"src/components/ExpenseForm.tsx", "import { useState, type FormEvent } from \"react\";", "import { useState } from \"react\";"}},
			wants: []want{{"src/components/ExpenseForm.tsx", "contains", "function handleSubmit(event: FormEvent<HTMLFormElement>)"}}},
		{id: "undefined-average", about: "shows an average computed by a helper that does not exist", intent: true,
			edits: []ed{{"src/components/ExpenseList.tsx", "<p className=\"total\">Total: {formatPrice(sum(expenses.map((x) => x.amount)))}</p>", "<p className=\"total\">Total: {formatPrice(sum(expenses.map((x) => x.amount)))} · Average: {formatPrice(averageAmount(expenses))}</p>"}}},
	},
}
