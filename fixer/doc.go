// Package fixer is stich's deterministic TypeScript fixer: it turns the
// diagnostics of "tsc --noEmit" into edits of the app's files, without a
// language model.
//
// # What it owns
//
// The fix rules ([Codes], in priority order): unused imports (TS6192,
// TS6133, TS6196: removed), missing modules (TS2307, TS2792, TS2882: the
// path corrected to the file that exists — other extension, letter case or
// folder — else the module created with placeholder exports shaped by how
// they are used; a bare package specifier becomes an install request, not
// an edit; CSS and image imports get Vite's client types), TS5097 (.ts
// extension dropped), missing exports (TS2305: the declaration exported or
// a placeholder export added), default/named mismatches (TS2613, TS2614:
// the import rewritten to the real exports), TS2724 (the compiler's "did
// you mean"), TS1484 (type-only import), missing names (TS2304, TS2552,
// TS2686, TS2503: a React or project import added, a typo renamed, else a
// placeholder declared), TS2551 (property typo), TS7016 (@types package
// added to devDependencies, then an untyped module declaration), and unused
// parameters and destructured names.
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
//     fixer), so the next model phase can replace them.
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
