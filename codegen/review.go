package codegen

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// importRE finds module specifiers of import/export-from statements and
// dynamic imports. It is a review heuristic; type-checking in the sandbox
// is the authority.
var importRE = regexp.MustCompile(`(?m)(?:^\s*import\s*|^\s*(?:import|export)\s[^;'"]*?\bfrom\s*|\bimport\(\s*)['"]([^'"]+)['"]`)

// StaticReview checks what can be checked without installing anything
// after phase was implemented: each of the phase's files exists and is
// non-empty, package.json parses, and every relative import resolves to a
// file of the app or to one the roadmap plans for a later phase.
// Diagnostics use codes STICH001..STICH004.
func StaticReview(bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string) []*stichv1.Diagnostic {
	var out []*stichv1.Diagnostic
	add := func(code, file, msg string) {
		out = append(out, &stichv1.Diagnostic{Code: code, File: file, Message: msg, Severity: "error"})
	}
	for _, f := range phase.GetFiles() {
		if c, ok := files[f.GetPath()]; !ok {
			add("STICH001", f.GetPath(), "planned file was not written")
		} else if strings.TrimSpace(c) == "" {
			add("STICH002", f.GetPath(), "file is empty")
		}
	}
	known := make(map[string]string, len(files))
	for p, c := range files {
		known[p] = c
	}
	for _, ph := range bp.GetRoadmap() {
		for _, f := range ph.GetFiles() {
			if _, ok := known[f.GetPath()]; !ok {
				known[f.GetPath()] = "" // planned for a later phase
			}
		}
	}
	if pj, ok := files["package.json"]; ok {
		var v map[string]any
		if err := json.Unmarshal([]byte(pj), &v); err != nil {
			add("STICH003", "package.json", fmt.Sprintf("invalid JSON: %v", err))
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		ext := path.Ext(p)
		if ext != ".ts" && ext != ".tsx" && ext != ".js" && ext != ".jsx" {
			continue
		}
		for _, m := range importRE.FindAllStringSubmatch(files[p], -1) {
			spec := m[1]
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
				continue
			}
			target := path.Join(path.Dir(p), spec)
			if !resolves(target, known) {
				add("STICH004", p, fmt.Sprintf("cannot find module %q", spec))
			}
		}
	}
	return out
}

func resolves(target string, files map[string]string) bool {
	if _, ok := files[target]; ok {
		return true
	}
	for _, ext := range []string{".ts", ".tsx", ".js", ".jsx", ".d.ts", "/index.ts", "/index.tsx", "/index.js"} {
		if _, ok := files[target+ext]; ok {
			return true
		}
	}
	// "./x.js" written for a TypeScript file "./x.ts".
	if base, ok := strings.CutSuffix(target, ".js"); ok {
		return resolves(base, files)
	}
	return false
}
