import { type FormEvent, useState } from "react";
import { config } from "./config";
import { isQuestion, score, type Question } from "./logic";
import { Shell } from "./components/Shell";
import { listOf, num, usePersisted } from "./persist";

function Play({ questions, onFinish }: { questions: Question[]; onFinish: (score: number) => void }) {
  const [index, setIndex] = useState(0);
  const [answers, setAnswers] = useState<(number | null)[]>(() => questions.map(() => null));
  const [finished, setFinished] = useState(false);
  const q = questions[index];
  const picked = answers[index];
  const right = score(questions, answers);

  if (finished) {
    return (
      <section className="panel quiz-result" aria-label="Result">
        <h2 className="panel-title" data-testid="score">
          You scored {right} out of {questions.length}
        </h2>
        <ol className="plain-list">
          {questions.map((x, i) => (
            <li key={i} className={answers[i] === x.answer ? "is-right" : "is-wrong"}>
              {x.question} — <strong>{x.choices[x.answer]}</strong>
            </li>
          ))}
        </ol>
        <button
          type="button"
          className="btn btn-primary"
          onClick={() => {
            setAnswers(questions.map(() => null));
            setIndex(0);
            setFinished(false);
          }}
        >
          Play again
        </button>
      </section>
    );
  }

  return (
    <section className="panel quiz" aria-label="Question">
      <p className="muted">
        Question {index + 1} of {questions.length}
      </p>
      <h2 className="quiz-question">{q.question}</h2>
      <div className="quiz-choices">
        {q.choices.map((c, i) => {
          const state = picked === null ? "" : i === q.answer ? " is-right" : i === picked ? " is-wrong" : "";
          return (
            <button
              key={i}
              type="button"
              className={"btn quiz-choice" + state}
              data-correct={picked !== null && i === q.answer ? "true" : undefined}
              disabled={picked !== null}
              onClick={() => setAnswers((a) => a.map((x, j) => (j === index ? i : x)))}
            >
              {c}
            </button>
          );
        })}
      </div>
      {picked !== null && (
        <p role="status" className="quiz-feedback">
          {picked === q.answer ? "Correct!" : `Not quite: the answer is ${q.choices[q.answer]}.`}
        </p>
      )}
      <button
        type="button"
        className="btn btn-primary"
        disabled={picked === null}
        onClick={() => {
          if (index + 1 < questions.length) setIndex(index + 1);
          else {
            setFinished(true);
            onFinish(right);
          }
        }}
      >
        {index + 1 < questions.length ? "Next question" : "See my score"}
      </button>
    </section>
  );
}

function AddQuestion({ onAdd }: { onAdd: (q: Question) => void }) {
  const [question, setQuestion] = useState("");
  const [choices, setChoices] = useState(["", "", ""]);
  const [answer, setAnswer] = useState(0);
  const [error, setError] = useState("");
  function submit(e: FormEvent) {
    e.preventDefault();
    const filled = choices.map((c) => c.trim());
    if (question.trim() === "" || filled.some((c) => c === "")) {
      setError("Write the question and all three answers.");
      return;
    }
    onAdd({ question: question.trim(), choices: filled, answer });
    setQuestion("");
    setChoices(["", "", ""]);
    setAnswer(0);
    setError("");
  }
  return (
    <form className="panel" onSubmit={submit} aria-label="Add a question">
      <h2 className="panel-title">Add a question</h2>
      <label className="field">
        <span>Question</span>
        <input value={question} onChange={(e) => setQuestion(e.target.value)} />
      </label>
      {choices.map((c, i) => (
        <div key={i} className="row">
          <label className="field grow">
            <span>Answer {i + 1}</span>
            <input value={c} onChange={(e) => setChoices(choices.map((x, j) => (j === i ? e.target.value : x)))} />
          </label>
          <label className="check">
            <input type="radio" name="answer" checked={answer === i} onChange={() => setAnswer(i)} /> right
          </label>
        </div>
      ))}
      {error && <p className="field-error">{error}</p>}
      <button type="submit" className="btn">
        Add question
      </button>
    </form>
  );
}

export default function App() {
  const [own, setOwn] = usePersisted<Question[]>(config.storageKey + ":questions", [], listOf(isQuestion));
  const [best, setBest] = usePersisted<number>(config.storageKey + ":best", 0, num);
  const [round, setRound] = useState(0);
  const questions = [...config.questions, ...own];
  return (
    <Shell title={config.title} subtitle={config.subtitle}>
      <p className="muted">Best score: {best}</p>
      <Play key={round + ":" + questions.length} questions={questions} onFinish={(s) => setBest((b) => Math.max(b, s))} />
      <AddQuestion
        onAdd={(q) => {
          setOwn((o) => [...o, q]);
          setRound((r) => r + 1);
        }}
      />
    </Shell>
  );
}
