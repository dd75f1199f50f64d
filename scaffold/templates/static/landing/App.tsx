import { CallToAction } from "./components/CallToAction";
import { Features } from "./components/Features";
import { Footer } from "./components/Footer";
import { Hero } from "./components/Hero";
import { content } from "./content";

export default function App() {
  return (
    <div className="app" id="top">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <nav className="site-nav" aria-label="Main">
        <div className="container nav-inner">
          <a className="brand" href="#top">
            {content.title}
          </a>
          <div className="nav-links">
            <a href="#features">Features</a>
            <a className="btn btn-primary btn-small" href="#signup">
              {content.cta.button}
            </a>
          </div>
        </div>
      </nav>
      <main id="main">
        <Hero />
        <Features />
        <CallToAction />
      </main>
      <Footer />
    </div>
  );
}
