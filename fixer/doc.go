// Package fixer is stich's deterministic TypeScript fixer: it turns the
// diagnostics of "tsc --noEmit" into edits of the app's files, without a
// language model.
//
// # What it owns
//
// The fix rules ([Codes], in priority order):
//
//   - JSX syntax: void elements written like HTML (<input ...>, <br>) are
//     closed first (TS17008, TS17002): the parse error hides every other
//     diagnostic. Non-void elements left open (<p> without </p>) are
//     closed where the indentation says their content ends, only when
//     with every such insertion the file parses.
//   - Unused imports (TS6192, TS6133, TS6196: removed).
//   - Missing modules (TS2307, TS2792, TS2882): the path corrected to the
//     file that exists — other extension, letter case or folder — else to
//     the one module that exports every name the import reads, else to the
//     one file whose name differs only by case, hyphens, a plural or a
//     small typo; only when nothing fits, the module is created with
//     placeholders. A bare package specifier is added to package.json at a
//     known-good range ([knownGood]) and installed by [Fixer.Repair]; an
//     unknown package becomes an install request. Packages the sources
//     import without declaring them are added the same way. CSS and image
//     imports get Vite's client types. TS5097: .ts extension dropped.
//   - Missing exports (TS2305, TS2459: the declaration exported, else the
//     name imported from the module that does export it, else a
//     placeholder), default/named mismatches (TS2613, TS2614), TS2724 (the
//     compiler's "did you mean"), TS1484 (type-only import), TS1361 (a
//     type-only import used as a value).
//   - Missing names (TS2304, TS2552, TS2686, TS2503: a React or project
//     import added, a typo renamed, else a placeholder), TS2551 (property
//     typo), TS7016 (@types package, then an untyped module declaration).
//   - Mistakes that are no import problems (rules.go): HTML attribute names
//     (class, for, onclick, ...), React 19 API drift (ReactDOM.render,
//     useRef() without its argument), children missing from a props type,
//     useState([]) and useState(null) typed from a later setter call when
//     the message names the type, input strings passed where numbers go
//     (Number()), possibly-null access (?.), DOM lookups passed to
//     non-null parameters (!), untyped event handler parameters typed
//     from the JSX attributes they are passed to, useEffect(async ...)
//     run inside a synchronous effect, Object.keys(x) cast to the keys of
//     x where it indexes x (TS7053), CSS strings in style= turned into
//     objects (TS2559).
//   - Names from a library the app declares ([libraryExports]: React
//     Router, date-fns, ...) imported when used without an import
//     (TS2304, TS2552) or default-imported from a library without a
//     default export (TS1192). A compiler suggestion (TS2552) is taken only
//     for a typo-sized difference.
//   - With the checker (infer.go; a second, typed run of the parser, only
//     when a site needs it): a named helper's untyped parameter (TS7006)
//     typed when every call site passes the same writable type; a
//     property the type lacks without a compiler suggestion (TS2339)
//     renamed to the one property that clearly matches (another spelling,
//     an abbreviation, the only one sharing its main word).
//   - Node globals in browser code (TS2580, TS2591, TS2304):
//     process.env.X in a Vite app read from import.meta.env (NODE_ENV as
//     MODE, others as VITE_X), a top-level require() turned into an
//     import; Buffer, __dirname and the like left for the model with the
//     reason ([Result.Left]).
//   - More drift and strictness (rules_more.go): exports a library moved
//     (react-dom's createRoot to react-dom/client); createContext<T |
//     null>() given the null (or undefined) its type allows (TS2554); an
//     optional function called as a statement called with ?. (TS2722);
//     err.message on a catch variable read only for an Error (TS18046); a
//     component destructuring only children typed { children: ReactNode }
//     (TS7031); an effect arrow whose body is a promise put in braces
//     (TS2322); a default import of a library module without one turned
//     into the named import the compiler suggests (TS2613); class-property
//     handlers (handle = (e) => ...) typed from the JSX attributes they
//     are passed to as this.handle; a method overriding its base class's
//     (componentDidCatch(error, info)) typed as the base class declares it
//     (checker), the imports that type names kept.
//   - The unused family: unused locals without side effects, functions and
//     types deleted; unused destructured names dropped; a callback's
//     trailing unused parameters deleted, other unused parameters marked
//     with an underscore.
//
// # Guarantees
//
//  1. Edits are syntax-aware: every position comes from the TypeScript
//     parser (ts/facts.mjs, typescript 5.9.3 — npm's typescript 7 is the
//     native compiler and no longer exposes the JS compiler API), never
//     from a regular expression over source text. Import declarations are
//     re-printed whole from their parsed bindings.
//  2. The parser runs inside the sandbox ([sandbox.Runner]) because it
//     reads untrusted code; its output is checked ([decodeFacts]) against
//     the files it was given before any offset is used.
//  3. Planning is pure and stateless: the same diagnostics, files and
//     facts give the same Result. Overlapping edits are never applied; the
//     later one's diagnostic is reported unfixable.
//  4. Fix writes nothing to the app but its scratch folder .stich/fixer
//     (removed afterwards); [Fixer.Repair] writes the fixed files and
//     nothing else.
//  5. Placeholders say they are placeholders (a comment naming the stich
//     fixer), so the next model phase can replace them, and they are never
//     counted as fixes: they are listed in Result.NeedsModel (and
//     RepairResult.NeedsModel), not in Fixes. An app that type-checks only
//     thanks to placeholders is not fixed.
//  6. Before any placeholder the project is searched for what the code
//     meant (see missing modules and exports above); a guess is made only
//     when exactly one candidate fits best.
//
// # Concurrency
//
// A [Fixer] is safe for concurrent use across apps; calls for one app must
// not overlap (they share the app's scratch folder).
//
// # Imports
//
// The standard library and stich's sandbox package. It must not import
// actors, rpc, cluster or cmd.
package fixer
