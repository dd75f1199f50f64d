import { content } from "../content";

export function Hero() {
  return (
    <section className="hero" aria-labelledby="hero-title">
      <div className="container hero-inner">
        <p className="eyebrow">{content.eyebrow}</p>
        <h1 id="hero-title" className="hero-title">
          {content.title}
        </h1>
        <p className="hero-tagline">{content.tagline}</p>
        <div className="hero-actions">
          <a className="btn btn-primary btn-large" href="#signup">
            {content.cta.button}
          </a>
          <a className="btn btn-large" href="#features">
            Learn more
          </a>
        </div>
      </div>
    </section>
  );
}
