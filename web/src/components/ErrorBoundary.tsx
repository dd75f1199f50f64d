import { Component, type ErrorInfo, type ReactNode } from "react";

interface Props {
  children: ReactNode;
  /** Changing resetKey (e.g. the path) clears a caught error. */
  resetKey?: string;
}

interface State {
  error?: Error;
  resetKey?: string;
}

/** ErrorBoundary shows what broke and how to recover instead of a blank page. */
export class ErrorBoundary extends Component<Props, State> {
  state: State = {};

  static getDerivedStateFromError(error: Error): Partial<State> {
    return { error };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    if (props.resetKey !== state.resetKey) return { error: undefined, resetKey: props.resetKey };
    return null;
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error("stich UI error", error, info.componentStack);
  }

  render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="page narrow">
        <div className="problem" role="alert">
          <h1>Something went wrong on this page</h1>
          <p>
            The page hit an unexpected error: <code>{error.message || String(error)}</code>
          </p>
          <p>Your sessions are safe on the server. Reload the page to try again, or go back home.</p>
          <div className="row">
            <button type="button" className="btn primary" onClick={() => window.location.reload()}>
              Reload
            </button>
            <a className="btn" href="/">
              Home
            </a>
          </div>
        </div>
      </div>
    );
  }
}
