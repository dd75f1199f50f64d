import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { describe, sessions, type Problem } from "../api";
import type { ChangeCard } from "../gen/stich/v1/session_pb";
import type { ChatEntry } from "../session/reducer";
import { ProblemBox } from "./ProblemBox";

interface Props {
  sessionId: string;
  messages: readonly ChatEntry[];
  prompt: string;
  providerLabel: string;
  /** False while the session's log is still loading. */
  ready: boolean;
  /** readOnly: the reader does not own the app (no chat). */
  readOnly?: boolean;
  /** author names the writer of the user's messages: "You" for the owner, the owner's name for a reader. */
  author?: string;
  /** Shows what version n changed (the Versions tab's diff), at path if given. */
  onShowDiff?: (version: number, path?: string) => void;
}

/** newKey is a random idempotency key (crypto.randomUUID needs a secure context). */
function newKey(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** ChatPanel shows the conversation and sends refinements (SendMessage). */
export function ChatPanel({ sessionId, messages, prompt, providerLabel, ready: loaded, readOnly, author = "You", onShowDiff }: Props) {
  const ready = loaded && !readOnly;
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const listRef = useRef<HTMLOListElement>(null);
  // The idempotency key of a message not yet known to be recorded: sending
  // the same text again (after a failure) reuses it, so the session records
  // the message once.
  const unsent = useRef<{ text: string; key: string } | undefined>(undefined);

  useEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length]);

  async function send(e?: FormEvent) {
    e?.preventDefault();
    const t = text.trim();
    if (!t || sending) return;
    setSending(true);
    setProblem(undefined);
    try {
      if (unsent.current?.text !== t) unsent.current = { text: t, key: newKey() };
      await sessions.sendMessage({ sessionId, text: t, idempotencyKey: unsent.current.key });
      unsent.current = undefined;
      setText("");
    } catch (err) {
      setProblem(describe(err, "send the message"));
    } finally {
      setSending(false);
    }
  }

  function onKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  }

  return (
    <div className="chat">
      <ol className="messages" ref={listRef} aria-label="Conversation" aria-live="polite">
        {prompt && (
          <li className="msg user" data-role="user">
            <span className="who">{author}</span>
            <p>{prompt}</p>
          </li>
        )}
        {messages.map((m) => (
          <li key={m.seq} className={`msg ${m.role}`} data-role={m.role} data-seq={m.seq}>
            <span className="who">{m.role === "user" ? author : m.role === "assistant" ? providerLabel || "stich" : "stich"}</span>
            <p>{m.text}</p>
            {m.card && <ChangeCardView card={m.card} onShowDiff={onShowDiff} reader={readOnly} />}
          </li>
        ))}
      </ol>
      {problem && <ProblemBox problem={problem} onRetry={() => void send()} />}
      {readOnly ? (
        <p className="muted small pad-x" data-testid="chat-read-only">
          Only the owner changes this app: fork it to make your own.
        </p>
      ) : (
      <form className="chat-form" onSubmit={send}>
        <label htmlFor="chat-input" className="sr-only">
          Ask for a change
        </label>
        <textarea
          id="chat-input"
          rows={2}
          maxLength={16384}
          placeholder={ready ? "Ask for a change, e.g. “also track a notes field”" : "Loading the session…"}
          value={text}
          disabled={!ready}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKey}
        />
        <button type="submit" className="btn primary" disabled={!ready || sending || !text.trim()}>
          {sending ? "Sending…" : "Send"}
        </button>
      </form>
      )}
    </div>
  );
}

/** ChangeCardView lists what a refinement (or a requested fix) changed, file by file, and what it did not do. */
export function ChangeCardView({ card, onShowDiff, reader }: { card: ChangeCard; onShowDiff?: (version: number, path?: string) => void; reader?: boolean }) {
  const linked = card.version > 1 && onShowDiff !== undefined;
  return (
    <div className="change-card" data-testid="change-card" data-version={card.version} data-files={card.files.length}>
      {card.files.length > 0 && (
        <ul className="change-files" aria-label="Files changed">
          {card.files.map((f) => (
            <li key={f.path} data-testid="change-file" data-path={f.path} data-change={f.change}>
              <span className={`badge change-${f.change}`}>{f.change}</span>{" "}
              {linked ? (
                <button type="button" className="link" onClick={() => onShowDiff(card.version, f.path)} title={`Show the diff of ${f.path}`}>
                  <code>{f.path}</code>
                </button>
              ) : (
                <code>{f.path}</code>
              )}
              {f.lines && (
                <span className="small">
                  {" "}
                  <span className="added">+{f.lines.added}</span> <span className="removed">−{f.lines.removed}</span>
                </span>
              )}
              {f.mergedUserEdits && <span className="small muted"> · on top of {reader ? "the owner's" : "your"} edits</span>}
              {f.fixes.length > 0 && (
                <ul className="fix-list small" data-testid="change-fixes">
                  {f.fixes.map((x) => (
                    <li key={x}>{x}</li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ul>
      )}
      {card.files.length === 0 && <p className="small muted">No file changed, so no new version was made.</p>}
      {card.notDone.length > 0 && (
        <div className="change-not-done">
          <strong className="small">Not done</strong>
          <ul data-testid="change-not-done">
            {card.notDone.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        </div>
      )}
      {linked && (
        <button type="button" className="link small" onClick={() => onShowDiff(card.version)} data-testid="change-diff">
          Show the diff of version {card.version}
        </button>
      )}
    </div>
  );
}
