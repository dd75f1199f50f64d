// Package web owns stich's browser UI: the React + TypeScript sources under
// src/ (built by Vite into dist/, see README.md) and, in Go, the built
// files embedded into the stich binary.
//
// It guarantees that [Dist] always exists: on a fresh checkout dist/ holds
// only the committed README.md (no index.html), so `go build ./...` works
// without Node; rpc serves a page saying the UI is not built in that case.
// [Dist] is read-only and safe for concurrent use. Package web imports
// nothing of stich; rpc serves it (rpc/web.go).
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built UI rooted at dist/: index.html, assets/ (hashed,
// immutable file names) and the placeholder README.md.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// NB: fs.Sub fails only for an invalid path; "dist" is valid.
		panic("web: " + err.Error())
	}
	return sub
}
