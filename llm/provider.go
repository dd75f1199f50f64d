package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/editformat"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/scaffold"
)

// TemplatePaths are the files every generated app starts from: the
// scaffold's pinned project setup. Models are told not to write them and
// are refused when they try.
var TemplatePaths = []string{
	"package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "index.html",
	".gitignore", "public/favicon.svg", "src/vite-env.d.ts",
}

// ScaffoldTemplate renders the template files for a blueprint from
// package scaffold's foundation (its pinned dependencies and lockfile),
// with the blueprint's title, description and project name.
func ScaffoldTemplate(bp *stichv1.Blueprint) (map[string]string, error) {
	sbp := scaffold.Plan(strings.TrimSpace(bp.GetTitle()+". "+bp.GetDescription()), nil)
	out, err := scaffold.RenderFiles(sbp, TemplatePaths...) // NB: not the whole app: this is on the way to the first token
	if err != nil {
		return nil, fmt.Errorf("llm: template: %w", err)
	}
	if name := bp.GetProjectName(); projectNameRE.MatchString(name) && sbp.GetProjectName() != "" {
		old, repl := `"name": "`+sbp.GetProjectName()+`"`, `"name": "`+name+`"`
		for _, p := range []string{"package.json", "package-lock.json"} {
			out[p] = strings.ReplaceAll(out[p], old, repl)
		}
	}
	if h := out["index.html"]; h != "" {
		h = strings.Replace(h, "stich scaffold (no model)", "stich", 1)
		if t := bp.GetTitle(); t != "" {
			h = strings.Replace(h, "<title>"+html.EscapeString(sbp.GetTitle())+"</title>", "<title>"+html.EscapeString(t)+"</title>", 1)
		}
		if d := bp.GetDescription(); d != "" {
			h = strings.Replace(h, `content="`+html.EscapeString(sbp.GetDescription())+`"`, `content="`+html.EscapeString(d)+`"`, 1)
		}
		out["index.html"] = h
	}
	return out, nil
}

// Provider writes apps with a language model: it implements
// [codegen.Provider] with the prompts of this package, the [Client] and
// package editformat. It is safe for concurrent use by different sessions.
type Provider struct {
	templates     templateCache
	name          string
	client        *Client
	template      func(*stichv1.Blueprint) (map[string]string, error)
	templatePaths []string
	protected     []string
	fileBudget    int
	modelReview   bool
	chunkSize     int
}

var _ codegen.Provider = (*Provider)(nil)

// NewProvider returns a provider named name (its configuration name, e.g.
// "openai") that calls models through client.
func NewProvider(name string, client *Client) *Provider {
	p := &Provider{
		name: name, client: client, template: ScaffoldTemplate, templatePaths: TemplatePaths,
		fileBudget: 96 << 10, modelReview: true, chunkSize: editformat.DefaultChunkSize,
	}
	seen := map[string]bool{}
	for _, s := range [][]string{p.templatePaths, editformat.DefaultProtected} {
		for _, f := range s {
			if !seen[f] {
				seen[f] = true
				p.protected = append(p.protected, f)
			}
		}
	}
	return p
}

// Name implements [codegen.Provider].
func (p *Provider) Name() string { return p.name }

// EditsCurrentFiles reports that the model is shown the app's current
// files (the user's edits included) and edits them.
func (p *Provider) EditsCurrentFiles() bool { return true }

// Label implements [codegen.Provider]: the name and the model writing code.
func (p *Provider) Label() string {
	ac := p.client.Config().Resolve(ActionPhaseImplementation)
	return fmt.Sprintf("%s (%s/%s)", p.name, ac.Provider, ac.Model)
}

// ContextWithSession returns a context under which calls aggregate their
// usage for session id (see [codegen.ContextWithSession]).
func ContextWithSession(ctx context.Context, id string) context.Context {
	return codegen.ContextWithSession(ctx, id)
}

func sessionOf(ctx context.Context) string { return codegen.SessionFrom(ctx) }

// SessionUsage implements [codegen.UsageReporter].
func (p *Provider) SessionUsage(sessionID string) codegen.Usage {
	u := p.client.Usage().Session(sessionID)
	return codegen.Usage{PromptTokens: uint64(u.PromptTokens), CompletionTokens: uint64(u.CompletionTokens),
		CostUSD: u.CostUSD, Requests: uint64(u.Requests), Estimated: u.Estimated}
}

// Blueprint implements [codegen.Provider]: one call, and one repair call
// listing the problems if the blueprint is invalid. The template's files
// are added to the first phase.
func (p *Provider) Blueprint(ctx context.Context, _, prompt string) (*stichv1.Blueprint, error) {
	pr, err := Render(ActionBlueprint, PromptData{Prompt: prompt, Protected: p.protected})
	if err != nil {
		return nil, err
	}
	msgs := pr.Messages()
	res, err := p.client.Stream(ctx, Request{Action: ActionBlueprint, Messages: msgs, Session: sessionOf(ctx)})
	if err != nil {
		return nil, err
	}
	bp, err := ExtractBlueprint(res.Text)
	if err != nil {
		var be *BlueprintError
		if !errors.As(err, &be) && !errors.Is(err, ErrNoJSON) {
			return nil, err
		}
		msgs = append(msgs, Message{Role: RoleAssistant, Content: res.Text}, Message{Role: RoleUser, Content: RepairPrompt(err)})
		res, err = p.client.Stream(ctx, Request{Action: ActionBlueprint, Messages: msgs, Session: sessionOf(ctx)})
		if err != nil {
			return nil, err
		}
		if bp, err = ExtractBlueprint(res.Text); err != nil {
			return nil, fmt.Errorf("llm: the model's blueprint is still invalid after a repair request: %w", err)
		}
	}
	p.addTemplate(bp)
	p.templates.start(bp, p.template)
	return bp, nil
}

// RepairPrompt asks a model to fix the blueprint problems err lists.
func RepairPrompt(err error) string {
	var be *BlueprintError
	if errors.As(err, &be) {
		return "The blueprint has these problems:\n- " + strings.Join(be.Problems, "\n- ") +
			"\n\nAnswer with the corrected, complete blueprint as one JSON object in a ```json block."
	}
	return "Your answer did not contain the blueprint as JSON. Answer with the complete blueprint as one JSON object in a ```json block."
}

// addTemplate moves the template's files to the front of the first phase.
func (p *Provider) addTemplate(bp *stichv1.Blueprint) {
	if len(bp.Roadmap) == 0 {
		return
	}
	tmpl := map[string]bool{}
	for _, f := range p.templatePaths {
		tmpl[f] = true
	}
	var phases []*stichv1.PhasePlan
	for _, ph := range bp.Roadmap {
		ph.Files = slices.DeleteFunc(ph.Files, func(f *stichv1.FilePlan) bool { return tmpl[f.GetPath()] })
		if len(ph.Files) > 0 || len(phases) == 0 {
			phases = append(phases, ph)
		}
	}
	first := phases[0]
	var files []*stichv1.FilePlan
	for _, f := range p.templatePaths {
		files = append(files, &stichv1.FilePlan{Path: f, Purpose: "project template"})
	}
	first.Files = append(files, first.Files...)
	for i, ph := range phases {
		ph.LastPhase = i == len(phases)-1
	}
	bp.Roadmap = phases
}

// Implement implements [codegen.Provider]: template files are written as
// they are; the model writes the rest.
func (p *Provider) Implement(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string, skip map[string]bool, emit codegen.Emitter) error {
	isTmpl := map[string]bool{}
	for _, f := range p.templatePaths {
		isTmpl[f] = true
	}
	var tmplFiles map[string]string
	todo := &stichv1.PhasePlan{Name: phase.GetName(), Description: phase.GetDescription(), LastPhase: phase.GetLastPhase()}
	for _, f := range phase.GetFiles() {
		switch {
		case skip[f.GetPath()]:
		case isTmpl[f.GetPath()]:
			if tmplFiles == nil {
				var err error
				if tmplFiles, err = p.templates.get(ctx, bp, p.template); err != nil {
					return err
				}
			}
			if c, ok := tmplFiles[f.GetPath()]; ok {
				if err := codegen.StreamFile(ctx, emit, f.GetPath(), f.GetPurpose(), c, p.chunkSize); err != nil {
					return err
				}
				files = withFile(files, f.GetPath(), c)
			}
		default:
			todo.Files = append(todo.Files, f)
		}
	}
	if len(todo.Files) == 0 {
		return nil
	}
	var first []string
	for _, f := range todo.Files {
		first = append(first, f.GetPath())
	}
	pr, err := Render(ActionPhaseImplementation, PromptData{
		Blueprint: BlueprintJSON(bp), Phase: todo, Files: SelectFiles(p.editable(files), first, p.fileBudget),
		FileList: sortedPaths(files), Protected: p.protected,
	})
	if err != nil {
		return err
	}
	ad, err := p.edit(ctx, ActionPhaseImplementation, pr, files, emit)
	if err != nil {
		return err
	}
	written := map[string]bool{}
	for _, f := range ad.Written() {
		written[f] = true
	}
	var missing []string
	for _, f := range todo.Files {
		if !written[f.GetPath()] {
			missing = append(missing, f.GetPath())
		}
	}
	if len(missing) > 0 {
		return emit.Log(ctx, "the model did not write "+strings.Join(missing, ", "))
	}
	return nil
}

// editable returns the files a model may change: the ones whose content
// prompts show. Protected files (the template, with its large lockfile)
// are only listed by name.
func (p *Provider) editable(files map[string]string) map[string]string {
	out := make(map[string]string, len(files))
	for k, v := range files {
		if !slices.Contains(p.protected, k) {
			out[k] = v
		}
	}
	return out
}

func withFile(files map[string]string, path, content string) map[string]string {
	out := make(map[string]string, len(files)+1)
	for k, v := range files {
		out[k] = v
	}
	out[path] = content
	return out
}

func sortedPaths(files map[string]string) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// edit makes a call whose answer writes files, streaming them to emit.
func (p *Provider) edit(ctx context.Context, a Action, pr Prompt, files map[string]string, emit codegen.Emitter) (*editformat.Adapter, error) {
	parser := editformat.NewParser(files, editformat.Options{Protected: p.protected})
	ad := editformat.NewAdapter(emit, p.chunkSize)
	_, err := p.client.Stream(ctx, Request{
		Action: a, Messages: pr.Messages(), Session: sessionOf(ctx),
		OnDelta: func(d string) error {
			evs, err := parser.Write(d)
			if err != nil {
				return err
			}
			return ad.Handle(ctx, evs)
		},
		OnNotice: func(n Notice) { _ = emit.Log(ctx, n.String()) },
	})
	if ctx.Err() != nil {
		return ad, err
	}
	evs, cerr := parser.Close()
	if cerr == nil {
		if herr := ad.Handle(ctx, evs); herr != nil && err == nil {
			err = herr
		}
	}
	return ad, err
}

// Review implements [codegen.Provider]: the static review, then (unless
// disabled) the model's review, of which only errors are kept. A failed
// model review is logged, not returned: it must not fail the session.
func (p *Provider) Review(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string) ([]*stichv1.Diagnostic, error) {
	diags := codegen.StaticReview(bp, phase, files)
	if !p.modelReview || len(diags) > 0 {
		return diags, ctx.Err()
	}
	var first []string
	for _, f := range phase.GetFiles() {
		first = append(first, f.GetPath())
	}
	pr, err := Render(ActionReview, PromptData{Phase: phase, Files: SelectFiles(p.editable(files), first, p.fileBudget), Protected: p.protected})
	if err != nil {
		return nil, err
	}
	res, err := p.client.Stream(ctx, Request{Action: ActionReview, Messages: pr.Messages(), Session: sessionOf(ctx)})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		p.client.log.Warn("llm: model review failed; using the static review only", "error", err.Error())
		return diags, nil
	}
	found, err := ParseReview(res.Text, files)
	if err != nil {
		p.client.log.Warn("llm: unreadable model review; using the static review only", "error", err.Error())
		return diags, nil
	}
	return append(diags, found...), nil
}

// ParseReview reads a review answer: a JSON array of {file, line, column,
// message, severity}. Only errors about files of the app are kept, coded
// REVIEW.
func ParseReview(answer string, files map[string]string) ([]*stichv1.Diagnostic, error) {
	type item struct {
		File     string `json:"file"`
		Line     uint32 `json:"line"`
		Column   uint32 `json:"column"`
		Message  string `json:"message"`
		Severity string `json:"severity"`
	}
	var cands []string
	if a := extractArray(answer); a != "" {
		cands = append(cands, a)
	}
	for _, c := range cands {
		var items []item
		if err := json.Unmarshal([]byte(c), &items); err != nil {
			continue
		}
		var out []*stichv1.Diagnostic
		for _, it := range items {
			sev := strings.ToLower(it.Severity)
			if sev == "" {
				sev = "error"
			}
			if _, ok := files[it.File]; !ok || sev != "error" || strings.TrimSpace(it.Message) == "" {
				continue
			}
			out = append(out, &stichv1.Diagnostic{Code: "REVIEW", File: it.File, Line: it.Line, Column: it.Column, Message: it.Message, Severity: "error"})
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: expected a JSON array of problems", ErrNoJSON)
}

// extractArray returns the first balanced JSON array of an answer, from a
// fence if there is one.
func extractArray(answer string) string {
	if fences := fenceBodies(answer); len(fences) > 0 {
		if b := strings.TrimSpace(fences[0]); strings.HasPrefix(b, "[") {
			if a, ok := balancedArray(b); ok {
				return removeTrailingCommas(a)
			}
		}
	}
	if i := strings.IndexByte(answer, '['); i >= 0 {
		if a, ok := balancedArray(answer[i:]); ok {
			return removeTrailingCommas(a)
		}
	}
	return ""
}

func balancedArray(s string) (string, bool) {
	obj, _ := balanced(s, 0)
	if obj == "" || obj[len(obj)-1] != ']' {
		return "", false
	}
	return obj, true
}

// Fix implements [codegen.Provider]: the model gets the diagnostics and
// the files they name, and answers with edits.
func (p *Provider) Fix(ctx context.Context, bp *stichv1.Blueprint, files map[string]string, diags []*stichv1.Diagnostic, emit codegen.Emitter) error {
	if len(diags) == 0 {
		return nil
	}
	var first []string
	for _, d := range diags {
		first = append(first, d.GetFile())
	}
	pr, err := Render(ActionFixing, PromptData{
		Blueprint: BlueprintJSON(bp), Diagnostics: diags, Files: SelectFiles(p.editable(files), first, p.fileBudget),
		FileList: sortedPaths(files), Protected: p.protected,
	})
	if err != nil {
		return err
	}
	_, err = p.edit(ctx, ActionFixing, pr, files, emit)
	return err
}

// Refine implements [codegen.Provider]: the conversation model answers the
// user and plans the change as a phase. It sees the summary of the
// conversation compacted away and the turns since (or, for a session
// without recorded turns, the changes applied).
func (p *Provider) Refine(ctx context.Context, prompt string, conv codegen.Conversation, message string, bp *stichv1.Blueprint, files map[string]string) (*codegen.Refinement, error) {
	pr, err := Render(ActionConversation, PromptData{
		Prompt: prompt, History: conv.Applied, Summary: conv.Summary, Turns: conv.Turns, Message: message, Blueprint: BlueprintJSON(bp),
		FileList: sortedPaths(files), Protected: p.protected,
	})
	if err != nil {
		return nil, err
	}
	res, err := p.client.Stream(ctx, Request{Action: ActionConversation, Messages: pr.Messages(), Session: sessionOf(ctx)})
	if err != nil {
		return nil, err
	}
	return ParseRefinement(res.Text, message, files, p.protected), nil
}

// ParseRefinement reads a conversation answer ({"reply", "phase",
// "deleted"}). Files outside the app's rules are dropped; an answer that
// is not JSON becomes the reply, with a phase that asks the
// implementation model to apply the message.
func ParseRefinement(answer, message string, files map[string]string, protected []string) *codegen.Refinement {
	var v struct {
		Reply string `json:"reply"`
		Phase *struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			Files       []struct {
				Path    string `json:"path"`
				Purpose string `json:"purpose"`
			} `json:"files"`
		} `json:"phase"`
		Deleted []string `json:"deleted"`
	}
	parsed := false
	for _, c := range ExtractJSON(answer) {
		if json.Unmarshal([]byte(c), &v) == nil && (v.Reply != "" || v.Phase != nil) {
			parsed = true
			break
		}
	}
	if !parsed {
		return &codegen.Refinement{
			Reply: strings.TrimSpace(answer),
			Phase: &stichv1.PhasePlan{Name: "Refinement", Description: message, LastPhase: true},
		}
	}
	prot := map[string]bool{}
	for _, f := range protected {
		prot[f] = true
	}
	r := &codegen.Refinement{Reply: strings.TrimSpace(v.Reply)}
	if v.Phase != nil {
		ph := &stichv1.PhasePlan{Name: strings.TrimSpace(v.Phase.Name), Description: strings.TrimSpace(v.Phase.Description), LastPhase: true}
		if ph.Name == "" {
			ph.Name = "Refinement"
		}
		if ph.Description == "" {
			ph.Description = message
		}
		seen := map[string]bool{}
		for _, f := range v.Phase.Files {
			path := strings.TrimPrefix(strings.TrimSpace(f.Path), "./")
			if codegen.CheckPath(path) != nil || prot[path] || seen[path] {
				continue
			}
			seen[path] = true
			ph.Files = append(ph.Files, &stichv1.FilePlan{Path: path, Purpose: f.Purpose})
		}
		r.Phase = ph
	}
	for _, d := range v.Deleted {
		if _, ok := files[d]; ok && !prot[d] {
			r.Deleted = append(r.Deleted, d)
		}
	}
	return r
}

// Compact implements [codegen.Provider]: the conversation model merges
// turns into the earlier summary. The answer is taken as plain text (a
// code fence around it is removed), valid UTF-8 and at most
// [codegen.MaxSummaryBytes]; an empty answer is an error.
func (p *Provider) Compact(ctx context.Context, summary string, turns []codegen.Turn) (string, error) {
	pr, err := Render(promptCompaction, PromptData{Summary: summary, Turns: turns})
	if err != nil {
		return "", err
	}
	res, err := p.client.Stream(ctx, Request{Action: ActionConversation, Messages: pr.Messages(), Session: sessionOf(ctx)})
	if err != nil {
		return "", err
	}
	return CleanSummary(res.Text)
}

// ErrEmptySummary is returned when a model's summary is empty.
var ErrEmptySummary = errors.New("llm: the conversation summary is empty")

// CleanSummary validates a summary a model wrote: surrounding whitespace
// and one code fence are removed, invalid UTF-8 is replaced, and it is cut
// to [codegen.MaxSummaryBytes] on a rune boundary.
func CleanSummary(answer string) (string, error) {
	s := strings.TrimSpace(strings.ToValidUTF8(answer, "\uFFFD"))
	if strings.HasPrefix(s, "```") && strings.HasSuffix(s, "```") && len(s) >= 6 {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = strings.TrimSpace(s[i+1 : len(s)-3])
		}
	}
	if len(s) > codegen.MaxSummaryBytes {
		s = s[:codegen.MaxSummaryBytes]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	if s == "" {
		return "", ErrEmptySummary
	}
	return s, nil
}
