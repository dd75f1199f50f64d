package scaffold

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzPlan feeds arbitrary prompts and refinements through Plan and Files:
// Plan must not panic and must return a well-formed blueprint, and Files
// must render it within the size limits.
func FuzzPlan(f *testing.F) {
	for _, c := range planCases {
		f.Add(c.prompt, strings.Join(c.refinements, "\n"))
	}
	for _, a := range sampleApps {
		if a.prompt != "" {
			f.Add(a.prompt, strings.Join(a.refinements, "\n"))
		}
	}
	f.Add("", "")
	f.Add("with with with , , ( ( ( ) and and", "remove remove\nadd\ncall it\nmake it a")
	f.Add("kanban columns: a, a, a, a, b, c, d, e, f, g, h", "add a column called x column\nremove the a column")
	f.Add(strings.Repeat("field, ", 500), strings.Repeat("add x\n", 100))
	f.Add("\xff\xfe invalid utf8 \xc3", "\x00\x01")
	f.Fuzz(func(t *testing.T, prompt, refinement string) {
		var refs []string
		if refinement != "" {
			refs = strings.Split(refinement, "\n")
		}
		bp := Plan(prompt, refs)
		known := false
		for _, k := range Kinds() {
			known = known || bp.AppKind == k
		}
		if !known {
			t.Fatalf("kind %q", bp.AppKind)
		}
		if bp.Title == "" || utf8.RuneCountInString(bp.Title) > maxTitleLen || !utf8.ValidString(bp.Title) {
			t.Fatalf("title %q", bp.Title)
		}
		if !npmName.MatchString(bp.ProjectName) {
			t.Fatalf("project name %q", bp.ProjectName)
		}
		if !hexPalette(bp.ColorPalette) {
			t.Fatalf("palette %v", bp.ColorPalette)
		}
		if n := len(bp.Entities); (n < 1 && !isWidgetKind(bp.AppKind)) || (n > 0 && isWidgetKind(bp.AppKind)) || n > maxEntities {
			t.Fatalf("%d entities", n)
		}
		for _, e := range bp.Entities {
			if !tsIdent.MatchString(e.Name) {
				t.Fatalf("entity name %q", e.Name)
			}
			if len(e.Fields) > maxFields {
				t.Fatalf("%d fields", len(e.Fields))
			}
			for _, fd := range e.Fields {
				if !tsIdent.MatchString(fd.Name) || normalizeType(fd.Type) != fd.Type {
					t.Fatalf("field %q of type %q", fd.Name, fd.Type)
				}
			}
		}
		files, err := Files(bp)
		if err != nil {
			t.Fatalf("Files(Plan(%q)): %v", prompt, err)
		}
		total := 0
		for p, c := range files {
			if !safePath.MatchString(p) || len(c) > maxFileBytes {
				t.Fatalf("file %q (%d bytes)", p, len(c))
			}
			total += len(c)
		}
		if total > maxTotalBytes || len(files) > maxFileCount {
			t.Fatalf("%d bytes in %d files", total, len(files))
		}
	})
}
