// Package scaffold is stich's built-in app generator for when no language
// model is configured. [Plan] reads a prompt ("a recipe tracker with
// ingredients and ratings") and any later refinements into a blueprint, and
// [Files] renders that blueprint as a complete React + TypeScript + Vite app.
// [Design] does what Plan does and also says what it did: the kind it chose
// and why, with the runner-up ([Choice]); what the prompt asked for that the
// template cannot do; and, per refinement, whether it was applied, not done
// ("a chart needs a model") or changed nothing ([Outcome]), so a session can
// report the truth and skip a version when nothing changed. Whatever the
// scaffold produces is shown to users under [Label]; it is never passed off
// as AI output.
//
// # What it owns
//
// The template catalog ([Catalog]: record lists, kanban, dashboard, form,
// landing page, calendar/booking, timer, calculator, converter, quiz,
// flashcards, tic-tac-toe, memory, gallery, notes; each with its protected
// files), choosing a kind from the whole prompt (choose.go: weighted phrases,
// main clause versus feature phrases, negations), reading prompts (title,
// records, typed fields, kanban columns, colors, per-kind options), the
// generated apps' source, their pinned npm dependency set (one set for every
// kind, with a lockfile under templates/) and the blueprint conventions below.
//
// # Refinements
//
// A refinement is applied only when the scaffold's rules can do it
// faithfully: fields, records, columns, title, colors, the kind. Requests
// for a chart outside a dashboard, a theme switch, new buttons or anything
// needing a server are reported "not done" and leave the blueprint
// unchanged; they are never approximated. A quoted rename takes exactly the
// quoted text. A request that changes nothing is reported as no change.
//
// # Guarantees
//
//  1. Plan, Design and Files are pure functions of their input: same input, same
//     output, on every machine. Nothing reads the clock, randomness or the
//     environment.
//  2. Plan never fails and never panics. A prompt it cannot read yields a
//     generic crud app of "Items" named from the prompt's words.
//  3. Plan's roadmap has three phases listing every path Files returns,
//     each exactly once except src/App.tsx; only the last phase has
//     last_phase set. Files of a phase import only files of the same or
//     earlier phases. The first phase writes a runnable entry (index.html,
//     src/main.tsx and a first version of src/App.tsx that imports
//     nothing: the title and what is being built, [PhaseFiles]), so the app
//     builds and its preview shows after the first phase; the last phase
//     writes the full src/App.tsx ([Files] returns that one).
//  4. Files fails only for a blueprint it cannot render: an unknown
//     app_kind ([ErrUnknownKind]), no roadmap ([ErrNoRoadmap]) or a roadmap
//     that does not list exactly the files it would render
//     ([ErrRoadmapMismatch]). Any other blueprint content is clamped and
//     sanitized, so a blueprint edited elsewhere still renders.
//  5. Prompts are untrusted. User text reaches generated code only as JSON
//     string literals (with <, >, & and line separators escaped) in .ts
//     and .tsx files, as escaped text in index.html and README.md, and as JSON in
//     package.json. Identifiers, file names, CSS colors and the npm package
//     name are rebuilt from ASCII letters and digits; entity and field
//     labels are derived from those identifiers. No user text is placed in
//     comments, template literals, CSS or SVG.
//  6. Sizes are bounded: at most 4 entities of at most 12 fields, 6 kanban
//     columns, 60-rune titles and identifiers built from at most 32 bytes,
//     whatever the prompt.
//  7. Every kind's package.json has the same exact-version dependencies and
//     the scripts dev, build (tsc --noEmit && vite build), typecheck and
//     preview.
//
// # Blueprint conventions
//
// app_kind is one of [Kinds]. Views whose description starts with "Setting "
// carry settings: "storage" (the localStorage key prefix, from the app id
// given to [Design], else a hash of the first prompt; never from the title,
// so a rename keeps saved data), "kind" (the choice and its reason) and the
// single-purpose kinds' options (timer presets, calculator variant,
// converter categories, quiz or flashcard topic, opponent, calendar noun and
// slots). The single-purpose kinds have no entities. Entity names are
// PascalCase and field names
// camelCase; field types are "string", "number", "boolean", "date"
// (YYYY-MM-DD), "string[]" or "rating" (0-5 stars). How a string field is
// entered (email, phone, link, long text) follows from its name. For
// dashboards the first entity's number and rating fields are the metrics;
// for landing pages the first entity's fields are the highlighted features;
// for kanban boards the views whose description starts with "Board column"
// are the columns, in order. color_palette is primary, accent, background,
// surface, text as #rrggbb.
//
// # Concurrency
//
// The package holds no mutable state; all functions are safe for
// concurrent use.
//
// # Imports
//
// The standard library, the generated stich/v1 protobuf types and
// google.golang.org/protobuf/proto (to compare blueprints) only. It
// must not import other stich packages (it is a leaf the session layer
// calls), any network or model client, or anything that runs npm: the
// npmbuild-tagged test is the only place that does.
package scaffold
