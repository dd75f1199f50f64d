package codegen

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	stichv1 "github.com/stichdev/stich/proto/stich/v1"
	"github.com/stichdev/stich/scaffold"
)

// ScaffoldChunkSize is the size of the chunks the scaffold streams files in,
// so that clients see files fill the same way as from a model.
const ScaffoldChunkSize = 512

// Scaffold is the provider that needs no model: the deterministic generator
// of package scaffold. It is labelled as such wherever users see it.
type Scaffold struct {
	// ChunkDelay paces streamed chunks like a model's token rate (for demos
	// and for exercising clients against slow streams). 0 streams at once.
	ChunkDelay time.Duration
}

var _ Provider = Scaffold{}

// Name implements [Provider].
func (Scaffold) Name() string { return "scaffold" }

// Label implements [Provider].
func (Scaffold) Label() string { return scaffold.Label }

// Blueprint implements [Provider].
func (Scaffold) Blueprint(ctx context.Context, appID, prompt string) (*stichv1.Blueprint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return scaffold.Design(appID, prompt, nil).Blueprint, nil
}

// PlanPhase implements [Provider]: the scaffold's roadmap is its plan.
func (Scaffold) PlanPhase(ctx context.Context, _ *stichv1.Blueprint, req PhaseRequest) (*stichv1.PhasePlan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return proto.Clone(req.Roadmap).(*stichv1.PhasePlan), nil
}

// Implement implements [Provider]: it renders the app and streams the
// phase's files.
func (s Scaffold) Implement(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, _ map[string]string, skip map[string]bool, emit Emitter) error {
	emit = s.paced(emit)
	var rendered map[string]string
	var err error
	if i := roadmapIndex(bp, phase); i >= 0 {
		// A roadmap phase: its own files (the first phase writes a first
		// version of the app, so its preview shows before the rest).
		rendered, err = scaffold.PhaseFiles(bp, i)
	} else {
		rendered, err = scaffold.Files(bp)
	}
	if err != nil {
		return fmt.Errorf("codegen: scaffold render: %w", err)
	}
	for _, f := range phase.GetFiles() {
		if skip[f.GetPath()] {
			continue
		}
		content, ok := rendered[f.GetPath()]
		if !ok {
			return fmt.Errorf("codegen: scaffold has no file %q", f.GetPath())
		}
		if err := StreamFile(ctx, emit, f.GetPath(), f.GetPurpose(), content, ScaffoldChunkSize); err != nil {
			return err
		}
	}
	return nil
}

// roadmapIndex returns the index of the roadmap phase of bp that phase is
// (the same name and files), or -1.
func roadmapIndex(bp *stichv1.Blueprint, phase *stichv1.PhasePlan) int {
	for i, ph := range bp.GetRoadmap() {
		if ph.GetName() != phase.GetName() || len(ph.GetFiles()) != len(phase.GetFiles()) {
			continue
		}
		same := true
		for j, f := range ph.GetFiles() {
			if f.GetPath() != phase.GetFiles()[j].GetPath() {
				same = false
				break
			}
		}
		if same {
			return i
		}
	}
	return -1
}

// Review implements [Provider] with [StaticReview].
func (Scaffold) Review(ctx context.Context, bp *stichv1.Blueprint, phase *stichv1.PhasePlan, files map[string]string) ([]*stichv1.Diagnostic, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return StaticReview(bp, phase, files), nil
}

// Fix implements [Provider]: it rewrites each file named by a diagnostic
// from the scaffold's rendering.
func (s Scaffold) Fix(ctx context.Context, bp *stichv1.Blueprint, files map[string]string, diags []*stichv1.Diagnostic, emit Emitter) error {
	emit = s.paced(emit)
	rendered, err := scaffold.Files(bp)
	if err != nil {
		return fmt.Errorf("codegen: scaffold render: %w", err)
	}
	seen := map[string]bool{}
	for _, d := range diags {
		p := d.GetFile()
		content, ok := rendered[p]
		if seen[p] || !ok {
			continue
		}
		seen[p] = true
		if err := StreamFile(ctx, emit, p, "fix: "+d.GetMessage(), content, ScaffoldChunkSize); err != nil {
			return err
		}
	}
	return nil
}

// Refine implements [Provider]: the change request is read like more of the
// prompt (new fields, entities or a different kind of app), and the files
// whose rendering changes are rewritten.
func (Scaffold) Refine(ctx context.Context, prompt string, conv Conversation, message string, cur *stichv1.Blueprint, files map[string]string) (*Refinement, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := scaffold.Redesign(cur, prompt, append(append([]string(nil), conv.Applied...), message))
	bp := res.Blueprint
	rendered, err := scaffold.Files(bp)
	if err != nil {
		return nil, fmt.Errorf("codegen: scaffold render: %w", err)
	}
	purpose := map[string]string{}
	for _, ph := range bp.GetRoadmap() {
		for _, f := range ph.GetFiles() {
			purpose[f.GetPath()] = f.GetPurpose()
		}
	}
	phase := &stichv1.PhasePlan{Name: "Refinement", Description: message, LastPhase: true}
	var changed []string
	for p, c := range rendered {
		if files[p] != c {
			changed = append(changed, p)
		}
	}
	sort.Strings(changed)
	for _, p := range changed {
		phase.Files = append(phase.Files, &stichv1.FilePlan{Path: p, Purpose: purpose[p]})
	}
	var deleted []string
	for p := range files {
		if _, ok := rendered[p]; !ok {
			deleted = append(deleted, p)
		}
	}
	sort.Strings(deleted)
	// The scaffold says what became of the request; a request it cannot do
	// faithfully is reported as not done, never approximated.
	outcome := res.Refinements[len(res.Refinements)-1]
	reply := fmt.Sprintf("%s: applied %q (%s); %d file(s) change, %d removed.", scaffold.Label, message, outcome.Detail, len(changed), len(deleted))
	switch {
	case outcome.Status == scaffold.StatusNotDone:
		reply = fmt.Sprintf("%s: %s. Nothing was changed; configure a model provider for this.", scaffold.Label, outcome.Detail)
	case len(changed) == 0 && len(deleted) == 0:
		reply = fmt.Sprintf("%s: no change (%s). The scaffold understands new fields, entities, titles, colors and app kinds; configure a model provider for free-form changes.", scaffold.Label, outcome.Detail)
	}
	return &Refinement{Reply: reply, Blueprint: bp, Phase: phase, Deleted: deleted}, nil
}

// Compact implements [Provider] deterministically: the earlier summary,
// then the user's requests among turns, quoted; the scaffold's own replies
// add nothing it cannot recompute. The oldest text goes first when the
// summary outgrows [MaxSummaryBytes].
func (Scaffold) Compact(ctx context.Context, summary string, turns []Turn) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var b strings.Builder
	if summary != "" {
		b.WriteString(summary)
		b.WriteString("\n")
	}
	var asked []string
	for _, t := range turns {
		if t.Role == "user" {
			asked = append(asked, strconv.Quote(shorten(t.Text, 200)))
		}
	}
	fmt.Fprintf(&b, "%d earlier message(s), %d from the user", len(turns), len(asked))
	if len(asked) > 0 {
		b.WriteString(", who asked for: " + strings.Join(asked, "; "))
	}
	b.WriteString(".")
	out := b.String()
	if len(out) > MaxSummaryBytes {
		out = out[len(out)-MaxSummaryBytes:]
		for len(out) > 0 && !utf8.RuneStart(out[0]) {
			out = out[1:]
		}
	}
	return out, nil
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n]) + "…"
}

func (s Scaffold) paced(emit Emitter) Emitter {
	if s.ChunkDelay <= 0 {
		return emit
	}
	return pacedEmitter{Emitter: emit, delay: s.ChunkDelay}
}

// pacedEmitter waits before each chunk, returning early when cancelled.
type pacedEmitter struct {
	Emitter
	delay time.Duration
}

func (p pacedEmitter) FileChunk(ctx context.Context, path, data string) error {
	t := time.NewTimer(p.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	return p.Emitter.FileChunk(ctx, path, data)
}
