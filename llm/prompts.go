package llm

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"text/template"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/codegen"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// The prompt templates live in prompts/: common.tmpl holds the shared
// partials (the stack, the edit formats package editformat parses, file
// listings), and each action has NAME.tmpl defining "version", "system"
// and "user". A template's version (e.g. "blueprint/1") changes whenever
// its meaning changes, so answers can be traced to the prompt that caused
// them.
//
//go:embed prompts/*.tmpl
var promptFS embed.FS

// PromptFile is a file shown to the model.
type PromptFile struct {
	Path    string
	Content string
	// Omitted files are listed by path and size only (the prompt's byte
	// budget was spent).
	Omitted bool
	Size    int
}

// PromptData is what the templates can use; each action uses some of it.
type PromptData struct {
	// Prompt is the user's request for the app.
	Prompt string
	// Blueprint is the blueprint as indented JSON (see [BlueprintJSON]).
	Blueprint string
	// Phase is the phase to implement or just implemented (for phase
	// planning: the roadmap's entry for the phase to plan).
	Phase *stichv1.PhasePlan
	// Done lists the phases implemented so far, oldest first.
	Done []*stichv1.PhasePlan
	// Files are shown whole (or listed when Omitted).
	Files []PromptFile
	// FileList lists every path of the app.
	FileList []string
	// Diagnostics are problems to fix.
	Diagnostics []*stichv1.Diagnostic
	// Message is the user's chat message.
	Message string
	// Messages are queued change requests.
	Messages []string
	// History lists the changes already applied, oldest first (shown when
	// there are no Turns).
	History []string
	// Summary summarises the conversation compacted away.
	Summary string
	// Turns are the conversation's messages since the last compaction.
	Turns []codegen.Turn
	// Templates are the choices of template selection.
	Templates []string
	// Protected are files the template provides.
	Protected []string
}

// Prompt is a rendered prompt.
type Prompt struct {
	System, User string
	// Version identifies the template, e.g. "blueprint/1".
	Version string
}

// Messages returns the prompt as chat messages.
func (p Prompt) Messages() []Message {
	return []Message{{Role: RoleSystem, Content: p.System}, {Role: RoleUser, Content: p.User}}
}

// promptCompaction is the prompt that summarises a long conversation. It
// is not an action of its own: the conversation action's model runs it.
const promptCompaction Action = "compaction"

var (
	promptOnce sync.Once
	promptSets map[Action]*template.Template
	promptErr  error
)

var promptFuncs = template.FuncMap{
	"join":      strings.Join,
	"hasSuffix": strings.HasSuffix,
	"phaseJSON": func(ph *stichv1.PhasePlan) string { return protoJSON(ph) },
	"json": func(v any) (string, error) {
		b, err := json.MarshalIndent(v, "", "  ")
		return string(b), err
	},
}

func loadPrompts() {
	promptSets = map[Action]*template.Template{}
	common, err := promptFS.ReadFile("prompts/common.tmpl")
	if err != nil {
		promptErr = err
		return
	}
	for _, a := range append(append([]Action(nil), Actions...), promptCompaction) {
		src, err := promptFS.ReadFile("prompts/" + string(a) + ".tmpl")
		if err != nil {
			promptErr = fmt.Errorf("llm: prompt for %s: %w", a, err)
			return
		}
		t, err := template.New(string(a)).Funcs(promptFuncs).Option("missingkey=error").Parse(string(common))
		if err == nil {
			t, err = t.Parse(string(src))
		}
		if err != nil {
			promptErr = fmt.Errorf("llm: prompt for %s: %w", a, err)
			return
		}
		for _, name := range []string{"version", "system", "user"} {
			if t.Lookup(name) == nil {
				promptErr = fmt.Errorf("llm: prompt for %s defines no %q", a, name)
				return
			}
		}
		promptSets[a] = t
	}
}

// Render renders the prompt of an action.
func Render(a Action, data PromptData) (Prompt, error) {
	promptOnce.Do(loadPrompts)
	if promptErr != nil {
		return Prompt{}, promptErr
	}
	t, ok := promptSets[a]
	if !ok {
		return Prompt{}, fmt.Errorf("llm: no prompt for action %q", a)
	}
	exec := func(name string) (string, error) {
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, name, data); err != nil {
			return "", fmt.Errorf("llm: render %s/%s: %w", a, name, err)
		}
		return strings.TrimSpace(b.String()), nil
	}
	var p Prompt
	var err error
	if p.Version, err = exec("version"); err != nil {
		return Prompt{}, err
	}
	if p.System, err = exec("system"); err != nil {
		return Prompt{}, err
	}
	if p.User, err = exec("user"); err != nil {
		return Prompt{}, err
	}
	return p, nil
}

// PromptVersions returns every action's template version.
func PromptVersions() (map[Action]string, error) {
	out := map[Action]string{}
	for _, a := range Actions {
		p, err := Render(a, PromptData{Phase: &stichv1.PhasePlan{}})
		if err != nil {
			return nil, err
		}
		out[a] = p.Version
	}
	return out, nil
}

var blueprintMarshal = protojson.MarshalOptions{UseProtoNames: true}

// BlueprintJSON renders a blueprint as the indented JSON prompts show,
// with proto field names. NB: protojson varies its whitespace from build to
// build on purpose; the output is re-indented so prompts are stable.
func BlueprintJSON(bp *stichv1.Blueprint) string { return protoJSON(bp) }

// protoJSON renders m as indented JSON with proto field names.
func protoJSON(m proto.Message) string {
	b, err := blueprintMarshal.Marshal(m)
	if err != nil {
		return "{}"
	}
	var c, out bytes.Buffer
	if json.Compact(&c, b) != nil || json.Indent(&out, c.Bytes(), "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// SelectFiles picks the files to show a model within budget bytes: the
// files named in first (in order), then the rest from smallest to
// largest; what does not fit is listed as Omitted.
func SelectFiles(files map[string]string, first []string, budget int) []PromptFile {
	var out []PromptFile
	used := map[string]bool{}
	add := func(p string) {
		c, ok := files[p]
		if !ok || used[p] {
			return
		}
		used[p] = true
		f := PromptFile{Path: p, Size: len(c)}
		if len(c) <= budget {
			f.Content = c
			budget -= len(c)
		} else {
			f.Omitted = true
		}
		out = append(out, f)
	}
	for _, p := range first {
		add(p)
	}
	rest := make([]string, 0, len(files))
	for p := range files {
		if !used[p] {
			rest = append(rest, p)
		}
	}
	sort.Slice(rest, func(i, j int) bool {
		if len(files[rest[i]]) != len(files[rest[j]]) {
			return len(files[rest[i]]) < len(files[rest[j]])
		}
		return rest[i] < rest[j]
	})
	for _, p := range rest {
		add(p)
	}
	sort.SliceStable(out, func(i, j int) bool { return !out[i].Omitted && out[j].Omitted })
	return out
}
