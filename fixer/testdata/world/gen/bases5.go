//go:build ignore

package main

// Base 16: written after the rules for issue 17's classes (helper
// parameters from call sites, property names by best match, Node globals,
// missing closing tags), to give each class cases in shapes the held-out
// batch (bases4.go) does not have: literal arguments, a prefix
// abbreviation, snake_case, a side-effect require, a default-exporting
// local module, a VITE_ name already, __dirname, a one-line <li>. Not held
// out: written by the same hand as the rules.

var libraryCatalog = base{
	name: "library",
	files: map[string]string{
		"package.json":      pkg("book-shelf"),
		"tsconfig.json":     tsconfigPlain,
		"src/vite-env.d.ts": "/// <reference types=\"vite/client\" />\n",
		"src/main.tsx":      mainStd,
		"src/styles.css":    ".shelf {\n  display: grid;\n}\n",
		"src/catalog/book.ts": `export interface Book {
  id: number;
  title: string;
  author: string;
  description: string;
  publishedYear: number;
  rating: number;
}

export const BOOKS: Book[] = [
  { id: 1, title: "Dune", author: "Frank Herbert", description: "Spice and sand.", publishedYear: 1965, rating: 5 },
  { id: 2, title: "Kindred", author: "Octavia E. Butler", description: "Time and history.", publishedYear: 1979, rating: 4 },
];
`,
		"src/catalog/stars.ts": `export function stars(n: number): string {
  return "★".repeat(n) + "☆".repeat(Math.max(0, 5 - n));
}
`,
		"src/catalog/BookCard.tsx": `import type { Book } from "./book";
import { stars } from "./stars";

export default function BookCard({ book }: { book: Book }) {
  return (
    <article className="book">
      <h2>{book.title}</h2>
      <p className="by">
        {book.author}, {book.publishedYear}
      </p>
      <p>{book.description}</p>
      <span title={stars(5)}>{stars(book.rating)}</span>
    </article>
  );
}
`,
		"src/App.tsx": `import "./styles.css";
import { useState } from "react";
import BookCard from "./catalog/BookCard";
import { BOOKS } from "./catalog/book";

const PAGE_SIZE = Number(import.meta.env.VITE_PAGE_SIZE ?? 10);

export default function App() {
  const [page, setPage] = useState(0);
  const shown = BOOKS.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
  return (
    <main className="shelf">
      <h1>Shelf</h1>
      <ol className="titles">
        {shown.map((b) => (
          <li key={b.id}>{b.title}</li>
        ))}
      </ol>
      {shown.map((b) => (
        <BookCard key={b.id} book={b} />
      ))}
      <button onClick={() => setPage(page + 1)}>More</button>
    </main>
  );
}
`,
	},
	mistakes: []mistake{
		{id: "snake-field", about: "reads book.published_year; Book has publishedYear",
			edits: []ed{{"src/catalog/BookCard.tsx", "{book.author}, {book.publishedYear}", "{book.author}, {book.published_year}"}},
			wants: []want{{"src/catalog/BookCard.tsx", "contains", "{book.author}, {book.publishedYear}"}}},
		{id: "desc-abbrev", about: "reads book.desc; Book has description",
			edits: []ed{{"src/catalog/BookCard.tsx", "<p>{book.description}</p>", "<p>{book.desc}</p>"}},
			wants: []want{{"src/catalog/BookCard.tsx", "contains", "<p>{book.description}</p>"}}},
		{id: "untyped-literal-helper", about: "declares stars' parameter without a type; callers pass a number and a number literal",
			edits: []ed{{"src/catalog/stars.ts", "export function stars(n: number): string {", "export function stars(n): string {"}},
			wants: []want{{"src/catalog/stars.ts", "contains", "export function stars(n: number): string {"}}},
		{id: "require-css", about: "requires the stylesheet CommonJS-style",
			edits: []ed{{"src/App.tsx", `import "./styles.css";`, `require("./styles.css");`}},
			wants: []want{{"src/App.tsx", "contains", `import "./styles.css";`}, {"src/App.tsx", "lacks", "require("}}},
		{id: "dirname", about: "builds a cover path from __dirname, which a browser bundle lacks: the path is the author's call", intent: true,
			edits: []ed{{"src/catalog/BookCard.tsx", "      <h2>{book.title}</h2>\n", "      <img src={__dirname + \"/covers/\" + book.id + \".jpg\"} alt=\"\" />\n      <h2>{book.title}</h2>\n"}}},
		{id: "unclosed-li", about: "leaves the title list item without its closing tag",
			edits: []ed{{"src/App.tsx", "<li key={b.id}>{b.title}</li>", "<li key={b.id}>{b.title}"}},
			wants: []want{{"src/App.tsx", "contains", "<li key={b.id}>{b.title}</li>\n        ))}"}}},
		{id: "vite-name-process", about: "reads VITE_PAGE_SIZE from process.env",
			edits: []ed{{"src/App.tsx", "Number(import.meta.env.VITE_PAGE_SIZE ?? 10)", "Number(process.env.VITE_PAGE_SIZE ?? 10)"}},
			wants: []want{{"src/App.tsx", "contains", "Number(import.meta.env.VITE_PAGE_SIZE ?? 10)"}}},
		{id: "require-default", about: "requires the default-exporting BookCard module",
			edits: []ed{{"src/App.tsx", `import BookCard from "./catalog/BookCard";`, `const BookCard = require("./catalog/BookCard");`}},
			wants: []want{{"src/App.tsx", "contains", `import BookCard from "./catalog/BookCard";`}}},
	},
}
