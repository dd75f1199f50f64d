import { content } from "../content";

export function Footer() {
  return (
    <footer className="site-footer">
      <div className="container footer-inner">
        <span>
          © {new Date().getFullYear()} {content.title}
        </span>
        <a href="#top">Back to top</a>
      </div>
    </footer>
  );
}
