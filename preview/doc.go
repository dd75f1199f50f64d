// Package preview builds fast previews of generated apps with esbuild's Go
// API, in process, and serves them.
//
// # What it owns
//
// Bundling an app folder ([Builder], [Build]: its sources plus the
// node_modules the sandbox installed) into an in-memory [Preview] — one ES
// module bundle, its CSS and assets, the public/ folder and an index.html
// that loads them — with esbuild errors turned into tsc-shaped
// [tsdiag.Diagnostic]s; the error reporter injected into every preview and
// the [Report] format it sends; and the [Handler] that serves a preview.
//
// # Guarantees
//
//  1. No app code runs in stich: esbuild only parses and prints it, and
//     vite.config.ts and package scripts are ignored. The app runs only in
//     the user's browser, which must load it from an origin of its own.
//  2. A build only reads: nothing is written to the app folder. Every
//     module's contents is read through [os.Root] inside the app folder (or
//     an allowed extra root), within size limits; a build refuses an app
//     folder holding symlinks that point outside ([ErrRefused]), since
//     esbuild reads package.json and tsconfig.json files itself. (A
//     sandboxed process that plants such a link during a build can at most
//     make esbuild parse a host file as JSON; run builds when the app's
//     commands are idle for full protection.)
//  3. The Handler serves only the in-memory build: paths are looked up,
//     never joined to a folder, so traversal cannot reach anything.
//     index.html is never cached, hashed assets are cached for good, and
//     paths without an extension fall back to index.html.
//  4. The reporter sends at most 50 reports per page load, as simple
//     cross-origin POSTs the page does not wait for; [DecodeReport] treats
//     each body as untrusted.
//
// # Concurrency
//
// A [Builder] serializes its Build calls; different apps' Builders run in
// parallel. A [Handler] is safe for concurrent use, and Set may race with
// requests.
//
// # Imports
//
// The standard library, github.com/evanw/esbuild/pkg/api and stich's
// tsdiag package (for the Diagnostic type). It must not import actors,
// rpc, cluster or cmd.
package preview
