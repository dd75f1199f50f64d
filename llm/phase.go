package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/codegen"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// ErrBadPhasePlan is wrapped by every [PhasePlanError].
var ErrBadPhasePlan = errors.New("llm: invalid phase plan")

// PhasePlanError lists what is wrong with a phase plan a model wrote, in
// words a repair prompt can quote.
type PhasePlanError struct {
	Problems []string
}

// Error implements error.
func (e *PhasePlanError) Error() string {
	return "llm: invalid phase plan:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// Is makes errors.Is(err, ErrBadPhasePlan) hold.
func (e *PhasePlanError) Is(target error) bool { return target == ErrBadPhasePlan }

// maxPhaseFiles bounds the files one planned phase may write.
const maxPhaseFiles = 40

// ExtractPhasePlan reads a phase plan from a phase-planning answer: a JSON
// object {name, description, files: [{path, purpose}], last_phase} in a
// code fence or in prose (also wrapped as {"phase": {...}}, with files as
// plain paths, or "description" for a file's purpose). Files in protected
// (the template's) are dropped: the template writes them. existing is the
// number of files the app has, to bound the total. It returns a
// [*PhasePlanError] listing every problem, or [ErrNoJSON].
func ExtractPhasePlan(answer string, protected []string, existing int) (*stichv1.PhasePlan, error) {
	cands := ExtractJSON(answer)
	if len(cands) == 0 {
		return nil, ErrNoJSON
	}
	var firstErr error
	for _, c := range cands {
		ph := &stichv1.PhasePlan{}
		if err := blueprintJSON.Unmarshal([]byte(reshapePhase(c)), ph); err != nil {
			if firstErr == nil {
				firstErr = &PhasePlanError{Problems: []string{"the JSON does not match the phase shape: " + protoErr(err)}}
			}
			continue
		}
		if ph.GetName() == "" && len(ph.GetFiles()) == 0 {
			continue // some other object in the prose
		}
		ph.Name = strings.TrimSpace(ph.Name)
		ph.Description = strings.TrimSpace(ph.Description)
		ph.Files = slices.DeleteFunc(ph.Files, func(f *stichv1.FilePlan) bool {
			f.Path = strings.TrimPrefix(strings.TrimSpace(f.Path), "./")
			f.Purpose = strings.TrimSpace(f.Purpose)
			return slices.Contains(protected, f.Path)
		})
		return ph, validatePhase(ph, existing)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, &PhasePlanError{Problems: []string{"no JSON object in the answer has phase fields (name, files)"}}
}

func validatePhase(ph *stichv1.PhasePlan, existing int) error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if ph.GetName() == "" {
		add("name is missing")
	}
	switch n := len(ph.GetFiles()); {
	case n == 0:
		add("files is empty: list every file the phase creates or changes (template files are written by stich)")
	case n > maxPhaseFiles:
		add("the phase plans %d files; plan at most %d", n, maxPhaseFiles)
	case existing+n > codegen.MaxFiles:
		add("the app has %d files and the phase plans %d more; an app has at most %d", existing, n, codegen.MaxFiles)
	}
	seen := map[string]int{}
	for i, f := range ph.GetFiles() {
		if err := codegen.CheckPath(f.GetPath()); err != nil {
			add("files[%d].path: %s", i, strings.TrimPrefix(err.Error(), "codegen: "))
		}
		if prev, dup := seen[f.GetPath()]; dup {
			add("files[%d]: %s is already listed as files[%d]", i, f.GetPath(), prev)
		}
		seen[f.GetPath()] = i
	}
	if len(p) > 0 {
		return &PhasePlanError{Problems: p}
	}
	return nil
}

// reshapePhase unwraps {"phase": {...}} and rewrites files given as plain
// paths or with "description" for "purpose"; what it does not understand
// is left for protojson to report.
func reshapePhase(raw string) string {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return raw
	}
	if inner, ok := m["phase"].(map[string]any); ok && m["name"] == nil && m["files"] == nil {
		m = inner
	}
	if files, ok := m["files"].([]any); ok {
		for i, f := range files {
			switch x := f.(type) {
			case string:
				files[i] = map[string]any{"path": x}
			case map[string]any:
				if _, ok := x["purpose"]; !ok {
					if d, ok := x["description"]; ok {
						x["purpose"] = d
						delete(x, "description")
					}
				}
			}
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(m) != nil {
		return raw
	}
	return b.String()
}

// PhaseRepairPrompt asks a model to fix the phase plan problems err lists.
func PhaseRepairPrompt(err error) string {
	var pe *PhasePlanError
	if errors.As(err, &pe) {
		return "The phase plan has these problems:\n- " + strings.Join(pe.Problems, "\n- ") +
			"\n\nAnswer with the corrected, complete phase as one JSON object in a ```json block."
	}
	return "Your answer did not contain the phase plan as JSON. Answer with the phase as one JSON object in a ```json block."
}

// PlanPhase implements [codegen.Provider]: the phase-planning model plans
// the phase from the blueprint, the phases done, the files, the problems
// left and the queued messages, with the roadmap's entry as the default.
// An invalid plan gets one repair request; if it is still unusable (or
// the repair request fails) the roadmap's entry is kept and the session's
// log says so. A failed first request is returned: the step fails and
// can be resumed.
func (p *Provider) PlanPhase(ctx context.Context, bp *stichv1.Blueprint, req codegen.PhaseRequest) (*stichv1.PhasePlan, error) {
	if req.Roadmap == nil {
		return nil, fmt.Errorf("llm: phase %d has no roadmap entry to plan from", req.Index+1)
	}
	pr, err := Render(ActionPhasePlanning, PromptData{
		Blueprint: BlueprintJSON(bp), Phase: req.Roadmap, Done: req.Done, FileList: sortedPaths(req.Files),
		Diagnostics: req.Diagnostics, Messages: req.Pending, Protected: p.protected,
	})
	if err != nil {
		return nil, err
	}
	msgs := pr.Messages()
	res, err := p.client.Stream(ctx, Request{Action: ActionPhasePlanning, Messages: msgs, Session: sessionOf(ctx)})
	if err != nil {
		return nil, err
	}
	existing := len(req.Files)
	plan, perr := ExtractPhasePlan(res.Text, p.protected, existing)
	if perr == nil {
		return plan, nil
	}
	msgs = append(msgs, Message{Role: RoleAssistant, Content: res.Text}, Message{Role: RoleUser, Content: PhaseRepairPrompt(perr)})
	res, err = p.client.Stream(ctx, Request{Action: ActionPhasePlanning, Messages: msgs, Session: sessionOf(ctx)})
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		perr = err
	default:
		if plan, perr = ExtractPhasePlan(res.Text, p.protected, existing); perr == nil {
			return plan, nil
		}
	}
	if log := codegen.LogFrom(ctx); log != nil {
		log(fmt.Sprintf("the model's plan for phase %d is unusable after a repair request (%s); following the blueprint's roadmap", req.Index+1, oneLine(perr)))
	}
	return proto.Clone(req.Roadmap).(*stichv1.PhasePlan), nil
}

// oneLine joins the lines of err's message.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
