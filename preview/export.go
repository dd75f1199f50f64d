package preview

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// Exported is a preview as plain data, to carry a build made on another
// machine (a Nomad build task) back to the node that serves it.
type Exported struct {
	Files []ExportedFile `json:"files"`
	// ReportToken authenticates the build's error reports ("" without a
	// reporter).
	ReportToken string        `json:"reportToken,omitempty"`
	Took        time.Duration `json:"took"`
}

// ExportedFile is one served file.
type ExportedFile struct {
	Path      string `json:"path"`
	Body      []byte `json:"body"`
	Immutable bool   `json:"immutable,omitempty"`
}

// Export returns the preview's files, sorted by path.
func (p *Preview) Export() Exported {
	e := Exported{ReportToken: p.reportToken, Took: p.Took}
	for _, k := range p.Paths() {
		a := p.files[k]
		e.Files = append(e.Files, ExportedFile{Path: k, Body: a.body, Immutable: a.immutable})
	}
	return e
}

// Import checks an exported preview (clean absolute paths, an
// index.html, the limits a local build has) and rebuilds it.
func Import(e Exported) (*Preview, error) {
	if len(e.Files) > maxDistFiles {
		return nil, fmt.Errorf("preview: the build has more than %d files", maxDistFiles)
	}
	p := &Preview{files: map[string]asset{}, reportToken: e.ReportToken, Built: time.Now(), Took: e.Took}
	total := 0
	for _, f := range e.Files {
		if !strings.HasPrefix(f.Path, "/") || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return nil, fmt.Errorf("preview: bad file path %q in the build", f.Path)
		}
		if _, dup := p.files[f.Path]; dup {
			return nil, fmt.Errorf("preview: %s twice in the build", f.Path)
		}
		if total += len(f.Body); total > maxDist {
			return nil, fmt.Errorf("preview: the build is over %d bytes", maxDist)
		}
		p.add(f.Path, f.Body, f.Immutable)
	}
	if _, ok := p.files["/index.html"]; !ok {
		return nil, errors.New("preview: the build has no index.html")
	}
	if _, ok := p.files[ReporterPath]; ok != (e.ReportToken != "") {
		return nil, errors.New("preview: the build's reporter and its token do not match")
	}
	return p, nil
}
