package preview

import (
	"bytes"
	"strings"
	"testing"
)

// A preview survives Export and Import whole (files, cacheability, the
// report token), and Import refuses what a build could not produce.
func TestExportImport(t *testing.T) {
	p := &Preview{files: map[string]asset{}}
	p.add("/index.html", []byte("<!doctype html><p>hi</p>"), false)
	p.add("/assets/index-AbCdEfGh12.js", []byte("console.log(1)"), true)
	p.addReporter("/__stich/report")
	back, err := Import(p.Export())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(back.Paths(), " ") != strings.Join(p.Paths(), " ") || back.ReportToken() != p.ReportToken() || back.ReportToken() == "" {
		t.Fatalf("paths %v token %q, want %v %q", back.Paths(), back.ReportToken(), p.Paths(), p.ReportToken())
	}
	for _, path := range p.Paths() {
		a, _ := p.Resolve(path)
		b, _ := back.Resolve(path)
		if !bytes.Equal(a.Body, b.Body) || a.ETag != b.ETag || a.Immutable != b.Immutable || a.ContentType != b.ContentType {
			t.Errorf("%s: %+v, want %+v", path, b, a)
		}
	}

	index := ExportedFile{Path: "/index.html", Body: []byte("x")}
	for name, e := range map[string]Exported{
		"relative path":      {Files: []ExportedFile{index, {Path: "a.js"}}},
		"dot-dot":            {Files: []ExportedFile{index, {Path: "/a/../../etc/passwd"}}},
		"duplicate":          {Files: []ExportedFile{index, index}},
		"no index":           {Files: []ExportedFile{{Path: "/a.js"}}},
		"token, no reporter": {Files: []ExportedFile{index}, ReportToken: "abc"},
		"reporter, no token": {Files: []ExportedFile{index, {Path: ReporterPath}}},
		"too large":          {Files: []ExportedFile{index, {Path: "/big", Body: make([]byte, maxDist)}}},
	} {
		if _, err := Import(e); err == nil {
			t.Errorf("%s: imported", name)
		}
	}
}
