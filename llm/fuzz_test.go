package llm

import (
	"testing"

	"github.com/stichdev/stich/codegen"
)

// FuzzExtractBlueprint feeds arbitrary answers to the blueprint extractor:
// it must not panic, and a blueprint it accepts must be valid (every path
// passes codegen.CheckPath).
func FuzzExtractBlueprint(f *testing.F) {
	for _, name := range []string{"blueprint.txt", "blueprint_bad.txt", "blueprint_repaired.txt", "refine.txt", "review_issue.txt"} {
		f.Add(readAnswer(f, name))
	}
	f.Add(`{"title": "T", "views": ["a"], "phases": [{"files": ["x.ts", {"description": 1}]}], "color_palette": {"a": [1]}}`)
	f.Add("```json\n{\"a\": [1, 2,],}\n```")
	f.Fuzz(func(t *testing.T, answer string) {
		bp, err := ExtractBlueprint(answer)
		if err == nil {
			if verr := ValidateBlueprint(bp); verr != nil {
				t.Fatalf("accepted an invalid blueprint: %v", verr)
			}
			for _, ph := range bp.Roadmap {
				for _, fp := range ph.Files {
					if codegen.CheckPath(fp.Path) != nil {
						t.Fatalf("accepted path %q", fp.Path)
					}
				}
			}
		}
		ParseReview(answer, map[string]string{"src/App.tsx": ""})
		ParseRefinement(answer, "m", map[string]string{"src/App.tsx": ""}, TemplatePaths)
	})
}
