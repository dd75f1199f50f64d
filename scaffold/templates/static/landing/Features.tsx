import { content } from "../content";

const ICONS = ["✦", "◆", "●", "▲", "■", "★"];

export function Features() {
  return (
    <section id="features" className="features" aria-labelledby="features-title">
      <div className="container">
        <h2 id="features-title" className="section-title">
          {content.featuresTitle}
        </h2>
        <ul className="feature-grid">
          {content.features.map((feature, index) => (
            <li key={`${index}-${feature.title}`} className="feature">
              <span className="feature-icon" aria-hidden="true">
                {ICONS[index % ICONS.length]}
              </span>
              <h3 className="feature-title">{feature.title}</h3>
              <p className="feature-text">{feature.text}</p>
            </li>
          ))}
        </ul>
      </div>
    </section>
  );
}
