import type { ReactNode } from "react";

/** Shell is the page frame every app of this kind shares: header, main and footer. */
export function Shell({ title, subtitle, children }: { title: string; subtitle: string; children: ReactNode }) {
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <div className="container">
          <h1 className="app-title">{title}</h1>
          {subtitle && <p className="app-subtitle">{subtitle}</p>}
        </div>
      </header>
      <main id="main" className="main container widget-main">
        {children}
      </main>
      <footer className="app-footer">
        <div className="container muted">Saved in this browser only.</div>
      </footer>
    </div>
  );
}
