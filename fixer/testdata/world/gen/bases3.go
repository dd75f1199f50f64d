//go:build ignore

package main

// Bases 11–12: a second batch, written after the first rules were in place
// and without looking at them. On its first run the fixer repaired 0 of
// its 8 fixable cases correctly (and claimed none fixed); rules for what
// they showed (library names without an import, default imports of
// libraries, async effects, Object.keys indexing, CSS strings in style,
// compiler suggestions that are no typos) were added afterwards, so these
// cases are no longer held out. They are marked "set: heldout" and
// reported apart.

var quizRouter = base{
	name:    "quiz",
	heldout: true,
	files: map[string]string{
		"package.json":  pkg("quiz-night", "react-router-dom\": \"^7.0.0"),
		"tsconfig.json": tsconfigPlain,
		"src/main.tsx": `import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router-dom";
import App from "./App";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <BrowserRouter>
      <App />
    </BrowserRouter>
  </StrictMode>,
);
`,
		"src/quizzes.ts": `export interface Question {
  text: string;
  options: string[];
  answer: number;
}

export interface Quiz {
  id: string;
  title: string;
  questions: Question[];
}

export const QUIZZES: Quiz[] = [
  {
    id: "capitals",
    title: "Capitals",
    questions: [
      { text: "Capital of Peru?", options: ["Lima", "Quito", "Bogotá"], answer: 0 },
      { text: "Capital of Kenya?", options: ["Mombasa", "Nairobi", "Kisumu"], answer: 1 },
    ],
  },
];

export function getQuiz(id: string): Quiz | undefined {
  return QUIZZES.find((q) => q.id === id);
}
`,
		"src/components/Panel.tsx": `import type { ReactNode } from "react";

type PanelProps = { heading: string; children?: ReactNode };

export const Panel = ({ heading, children }: PanelProps) => (
  <section className="panel">
    <h2>{heading}</h2>
    {children}
  </section>
);
`,
		"src/pages/QuizList.tsx": `import { Link } from "react-router-dom";
import { QUIZZES } from "../quizzes";
import { Panel } from "../components/Panel";

export default function QuizList() {
  return (
    <Panel heading="Pick a quiz">
      <ul>
        {QUIZZES.map((q) => (
          <li key={q.id}>
            <Link to={"/quiz/" + q.id}>{q.title}</Link> ({q.questions.length} questions)
          </li>
        ))}
      </ul>
    </Panel>
  );
}
`,
		"src/pages/QuizPage.tsx": `import { useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { getQuiz } from "../quizzes";
import { Panel } from "../components/Panel";

export default function QuizPage() {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const quiz = getQuiz(id);
  const [step, setStep] = useState(0);
  const [score, setScore] = useState(0);
  if (!quiz) return <p>No such quiz.</p>;
  if (step >= quiz.questions.length) {
    return (
      <Panel heading="Done">
        <p>
          You scored {score} of {quiz.questions.length}.
        </p>
        <button onClick={() => navigate("/")}>Back</button>
      </Panel>
    );
  }
  const q = quiz.questions[step];
  const choose = (i: number) => {
    if (i === q.answer) setScore(score + 1);
    setStep(step + 1);
  };
  return (
    <Panel heading={quiz.title + ": question " + (step + 1)}>
      <p>{q.text}</p>
      {q.options.map((o, i) => (
        <button key={o} onClick={() => choose(i)}>
          {o}
        </button>
      ))}
    </Panel>
  );
}
`,
		"src/App.tsx": `import { Route, Routes } from "react-router-dom";
import QuizList from "./pages/QuizList";
import QuizPage from "./pages/QuizPage";

export default function App() {
  return (
    <Routes>
      <Route path="/" element={<QuizList />} />
      <Route path="/quiz/:id" element={<QuizPage />} />
    </Routes>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "router-import-missing", about: "uses useNavigate from react-router-dom without importing it",
			edits: []ed{{"src/pages/QuizPage.tsx", `import { useNavigate, useParams } from "react-router-dom";`, `import { useParams } from "react-router-dom";`}},
			wants: []want{{"src/pages/QuizPage.tsx", "matches", `import \{[^}]*\buseNavigate\b[^}]*\} from "react-router-dom"`}}},
		{id: "param-undefined", about: "passes the possibly-undefined route param on: the right default is the author's call", intent: true,
			edits: []ed{{"src/pages/QuizPage.tsx", `const { id = "" } = useParams();`, `const { id } = useParams();`}}},
		{id: "async-effect", about: "passes an async function to useEffect",
			edits: []ed{{"src/pages/QuizPage.tsx", "  const [score, setScore] = useState(0);\n", "  const [score, setScore] = useState(0);\n  useEffect(async () => {\n    await Promise.resolve();\n    document.title = \"Quiz\";\n  }, []);\n"}, {"src/pages/QuizPage.tsx", `import { useState } from "react";`, `import { useEffect, useState } from "react";`}},
			wants: []want{{"src/pages/QuizPage.tsx", "lacks", "useEffect(async"}}},
		{id: "children-not-rendered", about: "passes children to a component whose props have none and which renders none", intent: true,
			edits: []ed{{"src/components/Panel.tsx", "type PanelProps = { heading: string; children?: ReactNode };", "type PanelProps = { heading: string };"}, {"src/components/Panel.tsx", "export const Panel = ({ heading, children }: PanelProps) => (", "export const Panel = ({ heading }: PanelProps) => ("}, {"src/components/Panel.tsx", "    {children}\n", ""}, {"src/components/Panel.tsx", "import type { ReactNode } from \"react\";\n\n", ""}}},
		{id: "score-string", about: "adds a select's string value to a number score",
			edits: []ed{{"src/pages/QuizPage.tsx", "  const choose = (i: number) => {", "  const bonus = (e: React.ChangeEvent<HTMLSelectElement>) => setScore(e.target.value);\n  const choose = (i: number) => {"}, {"src/pages/QuizPage.tsx", "      <p>{q.text}</p>\n", "      <p>{q.text}</p>\n      <select onChange={bonus}>\n        <option>0</option>\n        <option>1</option>\n      </select>\n"}},
			wants: []want{{"src/pages/QuizPage.tsx", "contains", "setScore(Number(e.target.value))"}}},
		{id: "link-default", about: "default-imports Link from react-router-dom",
			edits: []ed{{"src/pages/QuizList.tsx", `import { Link } from "react-router-dom";`, `import Link from "react-router-dom";`}},
			wants: []want{{"src/pages/QuizList.tsx", "contains", `import { Link } from "react-router-dom"`}}},
	},
}

var statsDashboard = base{
	name:    "stats",
	heldout: true,
	files: map[string]string{
		"package.json":  pkg("team-stats", "date-fns\": \"^4.0.0"),
		"tsconfig.json": tsconfigVerbatim,
		"src/main.tsx":  mainStd,
		"src/data.ts": `export type Metric = "commits" | "reviews" | "deploys";

export interface DayStats {
  day: string;
  commits: number;
  reviews: number;
  deploys: number;
}

export const WEEK: DayStats[] = [
  { day: "2025-01-06", commits: 12, reviews: 4, deploys: 1 },
  { day: "2025-01-07", commits: 8, reviews: 6, deploys: 0 },
  { day: "2025-01-08", commits: 15, reviews: 3, deploys: 2 },
];

export const LABELS: Record<Metric, string> = { commits: "Commits", reviews: "Reviews", deploys: "Deploys" };
`,
		"src/components/Bar.tsx": `interface BarProps {
  value: number;
  max: number;
  label: string;
}

export default function Bar({ value, max, label }: BarProps) {
  const width = max === 0 ? 0 : Math.round((value / max) * 100);
  return (
    <div className="bar-row">
      <span className="bar-label">{label}</span>
      <div className="bar" style={{ width: width + "%" }} />
      <span className="bar-value">{value}</span>
    </div>
  );
}
`,
		"src/components/MetricPicker.tsx": `import { LABELS, type Metric } from "../data";

export function MetricPicker({ value, onChange }: { value: Metric; onChange: (m: Metric) => void }) {
  return (
    <div className="picker">
      {(Object.keys(LABELS) as Metric[]).map((m) => (
        <label key={m}>
          <input type="radio" checked={m === value} onChange={() => onChange(m)} />
          {LABELS[m]}
        </label>
      ))}
    </div>
  );
}
`,
		"src/App.tsx": `import { useMemo, useState } from "react";
import { format, parseISO } from "date-fns";
import Bar from "./components/Bar";
import { MetricPicker } from "./components/MetricPicker";
import { WEEK, type Metric } from "./data";

export default function App() {
  const [metric, setMetric] = useState<Metric>("commits");
  const max = useMemo(() => Math.max(...WEEK.map((d) => d[metric])), [metric]);
  const total = WEEK.reduce((sum, d) => sum + d[metric], 0);
  return (
    <main className="stats">
      <h1>This week</h1>
      <MetricPicker value={metric} onChange={setMetric} />
      {WEEK.map((d) => (
        <Bar key={d.day} label={format(parseISO(d.day), "EEE")} value={d[metric]} max={max} />
      ))}
      <p className="total">Total: {total}</p>
    </main>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "verbatim-type", about: "imports a type alias as a value under verbatimModuleSyntax",
			edits: []ed{{"src/components/MetricPicker.tsx", `import { LABELS, type Metric } from "../data";`, `import { LABELS, Metric } from "../data";`}},
			wants: []want{{"src/components/MetricPicker.tsx", "contains", `import { LABELS, type Metric } from "../data"`}}},
		{id: "string-index", about: "indexes a record with a plain string key",
			edits: []ed{{"src/components/MetricPicker.tsx", "{(Object.keys(LABELS) as Metric[]).map((m) => (", "{Object.keys(LABELS).map((m) => ("}},
			wants: []want{{"src/components/MetricPicker.tsx", "matches", `\(Object\.keys\(LABELS\) as (Metric|\(keyof typeof LABELS\))\[\]\)`}}},
		{id: "named-default", about: "imports the default-exported Bar by name",
			edits: []ed{{"src/App.tsx", `import Bar from "./components/Bar";`, `import { Bar } from "./components/Bar";`}},
			wants: []want{{"src/App.tsx", "contains", `import Bar from "./components/Bar"`}}},
		{id: "style-string", about: "writes an inline style as a CSS string",
			edits: []ed{{"src/components/Bar.tsx", `style={{ width: width + "%" }}`, "style={`width: ${width}%`}"}},
			wants: []want{{"src/components/Bar.tsx", "contains", `style={{ width: `}}},
		{id: "date-fns-missing", about: "uses date-fns without declaring it, and without importing parseISO",
			edits: []ed{{"package.json", "    \"date-fns\": \"^4.0.0\"\n", ""}, {"package.json", "\"react-dom\": \"^19.0.0\",\n", "\"react-dom\": \"^19.0.0\"\n"}, {"src/App.tsx", `import { format, parseISO } from "date-fns";`, `import { format } from "date-fns";`}},
			wants: []want{{"package.json", "contains", `"date-fns": "^4.4.0"`}, {"src/App.tsx", "matches", `import \{[^}]*\bparseISO\b[^}]*\} from "date-fns"`}}},
		{id: "missing-legend", about: "renders a Legend that exists nowhere", intent: true,
			edits: []ed{{"src/App.tsx", "      <p className=\"total\">", "      <Legend metric={metric} />\n      <p className=\"total\">"}}},
	},
}
