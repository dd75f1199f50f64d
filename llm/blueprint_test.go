package llm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

func readAnswer(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "answers", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExtractBlueprintFromAnswer(t *testing.T) {
	bp, err := ExtractBlueprint(readAnswer(t, "blueprint.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if bp.Title != "Task Tracker" || bp.ProjectName != "task-tracker" || bp.AppKind != "crud" || len(bp.ColorPalette) != 5 ||
		len(bp.Views) != 1 || len(bp.Entities[0].Fields) != 3 || len(bp.Roadmap) != 2 {
		t.Fatalf("blueprint %v", bp)
	}
	if bp.Roadmap[0].LastPhase || !bp.Roadmap[1].LastPhase || bp.Roadmap[0].Files[1].Purpose == "" {
		t.Fatalf("roadmap %v", bp.Roadmap)
	}
}

func TestExtractBlueprintTolerance(t *testing.T) {
	base := `"title": "T", "description": "D", "views": [{"name": "V"}]`
	phase := `{"name": "P", "files": [{"path": "src/App.tsx", "purpose": "app"}]}`
	for name, answer := range map[string]string{
		"camelCase":          `{"title": "T", "projectName": "t", "description": "D", "views": [{"name": "V"}], "roadmap": [{"name": "P", "lastPhase": true, "files": [{"path": "src/App.tsx", "purpose": "app"}]}]}`,
		"no fence":           `Sure! {` + base + `, "project_name": "t", "roadmap": [` + phase + `]} Hope this helps {really}.`,
		"plain fence":        "```\n{" + base + `, "project_name": "t", "roadmap": [` + phase + "]}\n```\nNotes: {not json}",
		"trailing commas":    "```json\n{" + base + `, "project_name": "t", "roadmap": [` + phase + ",],}\n```",
		"views as strings":   `{"title": "T", "project_name": "t", "description": "D", "views": ["V: the view"], "roadmap": [` + phase + `]}`,
		"phases key":         `{"title": "T", "project_name": "t", "description": "D", "views": [{"name": "V"}], "phases": [` + phase + `]}`,
		"file description":   `{"title": "T", "project_name": "t", "description": "D", "views": [{"name": "V"}], "roadmap": [{"name": "P", "files": [{"path": "./src/App.tsx", "description": "app"}]}]}`,
		"braces in string":   `{"title": "T {x}", "project_name": "t", "description": "a \"}\" here", "views": [{"name": "V"}], "roadmap": [` + phase + `]}`,
		"other object first": `Config: {"port": 3000}` + "\n```json\n{" + base + `, "project_name": "t", "roadmap": [` + phase + "]}\n```",
		"fields as strings":  `{"title": "T", "project_name": "t", "description": "D", "views": [{"name": "V"}], "entities": [{"name": "E", "fields": ["a: string"]}], "roadmap": [` + phase + `]}`,
		"palette object":     `{"title": "T", "project_name": "t", "description": "D", "color_palette": {"primary": "#fff"}, "views": [{"name": "V"}], "roadmap": [` + phase + `]}`,
	} {
		t.Run(name, func(t *testing.T) {
			bp, err := ExtractBlueprint(answer)
			if err != nil {
				t.Fatal(err)
			}
			if bp.ProjectName != "t" || len(bp.Roadmap) != 1 || bp.Roadmap[0].Files[0].Path != "src/App.tsx" || bp.Roadmap[0].Files[0].Purpose != "app" || !bp.Roadmap[0].LastPhase {
				t.Fatalf("%v", bp)
			}
		})
	}
}

func TestExtractBlueprintProblems(t *testing.T) {
	_, err := ExtractBlueprint(readAnswer(t, "blueprint_bad.txt"))
	var be *BlueprintError
	if !errors.As(err, &be) || !errors.Is(err, ErrBadBlueprint) {
		t.Fatalf("err %v", err)
	}
	want := []string{
		`project_name is missing (an npm package name such as "task-tracker")`,
		`roadmap[0].files[0] (src/App.tsx): purpose is missing`,
		`roadmap[0].files[1].path: invalid file path "server/index.py": extension ".py" is not allowed`,
	}
	if !reflect.DeepEqual(be.Problems, want) {
		t.Fatalf("problems:\n%s", strings.Join(be.Problems, "\n"))
	}
	if rp := RepairPrompt(err); !strings.Contains(rp, "- project_name is missing") || !strings.Contains(rp, "```json") {
		t.Fatalf("repair prompt %q", rp)
	}
	if _, err := ExtractBlueprint("I cannot help with that."); !errors.Is(err, ErrNoJSON) {
		t.Fatalf("no JSON: %v", err)
	}
	if _, err := ExtractBlueprint(`{"title": 5}`); !errors.Is(err, ErrBadBlueprint) || !strings.Contains(err.Error(), "does not match the blueprint shape") {
		t.Fatalf("wrong type: %v", err)
	}
	_, err = ExtractBlueprint(`{"title": "T", "project_name": "My App", "description": "d", "views": [], "roadmap": [{"name": "", "files": []}]}`)
	if !errors.As(err, &be) || len(be.Problems) != 4 {
		t.Fatalf("problems %v", err)
	}
}

// fenceRE is the definition fenceBodies implements without backtracking.
var fenceRE = regexp.MustCompile("(?s)```[ \t]*(?:json|JSON|jsonc|javascript|js)?[ \t]*\r?\n(.*?)\r?\n[ \t]*```")

func checkFences(t *testing.T, answer string) {
	t.Helper()
	var want []string
	for _, m := range fenceRE.FindAllStringSubmatch(answer, -1) {
		want = append(want, m[1])
	}
	if got := fenceBodies(answer); !slices.Equal(got, want) {
		t.Fatalf("fenceBodies(%q)\n got %q\nwant %q", answer, got, want)
	}
}

func TestFenceBodiesMatchRegexp(t *testing.T) {
	for _, a := range []string{
		"", "```", "``````", "```\n```", "```\n\n```", "```json\n{}\n```", "x ```json \t\r\n{\"a\":1}\r\n \t```y```js\n[]\n```",
		"```typescript\nconst x = 1\n```\n```json\n{}\n```", "```jsonc\n{}\n```", "```javascript\n{}\n```", "```JSON\n{}\n```", "```jsx\n{}\n```",
		"````\n{}\n````", "```\n{}```", "```\n{}\n  x```\n```", "```\r\n\r\n```", "```\n```\n```\n```", "a```\nb\n```c```\nd\n```",
		readAnswer(t, "blueprint.txt"), readAnswer(t, "review_issue.txt"), readAnswer(t, "refine.txt"), readAnswer(t, "plan_features.txt"),
	} {
		checkFences(t, a)
	}
}

func FuzzFenceBodies(f *testing.F) {
	for _, s := range []string{"```json\n{}\n```", "```\r\n{\n}\r\n```", "``` js \n[1]\n \t```", "````\n```\n```"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkFences(t, s) })
}

// extractBlueprintReshaped is ExtractBlueprint without the fast path:
// every candidate is reshaped first.
func extractBlueprintReshaped(answer string) (*stichv1.Blueprint, error) {
	cands := ExtractJSON(answer)
	if len(cands) == 0 {
		return nil, ErrNoJSON
	}
	var firstErr error
	for _, c := range cands {
		bp := &stichv1.Blueprint{}
		if err := blueprintJSON.Unmarshal([]byte(reshapeBlueprint(c)), bp); err != nil {
			if firstErr == nil {
				firstErr = &BlueprintError{Problems: []string{"the JSON does not match the blueprint shape: " + protoErr(err)}}
			}
			continue
		}
		if !looksLikeBlueprint(bp) {
			continue
		}
		normalizeBlueprint(bp)
		return bp, ValidateBlueprint(bp)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, &BlueprintError{Problems: []string{"no JSON object in the answer has blueprint fields (title, roadmap, ...)"}}
}

// FuzzExtractBlueprintFastPath checks that trying a candidate as it is
// before reshaping it never changes the outcome.
func FuzzExtractBlueprintFastPath(f *testing.F) {
	for _, name := range []string{"blueprint.txt", "blueprint_bad.txt", "blueprint_repaired.txt", "refine.txt"} {
		f.Add(readAnswer(f, name))
	}
	f.Add(`{"title": "T", "project_name": "t", "description": "d", "views": [{"name": "v"}], "roadmap": [{"name": "a", "files": [{"path": "a.ts", "purpose": "p", "description": "q"}]}], "phases": []}`)
	f.Add(`{"title": "T", "projectName": "t", "description": "d", "views": [{"name": "v"}], "roadmap": [{"name": "a", "files": [{"path": "a.ts", "description": "q"}]}]}`)
	f.Fuzz(func(t *testing.T, answer string) {
		got, gerr := ExtractBlueprint(answer)
		want, werr := extractBlueprintReshaped(answer)
		if !proto.Equal(got, want) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Fatalf("fast path changed the outcome:\n got %v %v\nwant %v %v", got, gerr, want, werr)
		}
	})
}
