// Package eval owns stich's evaluation harness data: the prompt set, the
// record of one run (what happened to each generated app), its summary
// (the scoreboard: viable apps, deterministic fix rate, dollars per viable
// app, time to preview), the comparison of two runs, and the static HTML
// report. It is pure: running the prompts (a node, the sandbox) is the
// caller's (cmd/stich eval); this package reads and writes only the
// io.Reader and io.Writer it is given.
//
// It must not import actors, rpc, cluster or cmd.
package eval

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultPrompts is stich's own prompt set (prompts.txt): 50+ prompts
// across CRUD apps, dashboards, games, tools, forms and landing pages.
//
//go:embed prompts.txt
var DefaultPrompts string

// Prompt is one line of a prompt file.
type Prompt struct {
	// Category groups prompts in the report ("crud", "game", ...).
	Category string `json:"category"`
	Text     string `json:"text"`
}

// ErrPrompts: a prompt file is malformed.
var ErrPrompts = errors.New("eval: bad prompt file")

// maxPrompt bounds one prompt, as the session API does.
const maxPrompt = 4000

// ParsePrompts reads a prompt file: one prompt per line, "category:
// prompt" or just the prompt (category "other"); blank lines and lines
// starting with # are skipped. Every problem is reported, with its line.
func ParsePrompts(r io.Reader) ([]Prompt, error) {
	var out []Prompt
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := Prompt{Category: "other", Text: line}
		if cat, text, ok := strings.Cut(line, ":"); ok && isCategory(cat) {
			p = Prompt{Category: strings.TrimSpace(cat), Text: strings.TrimSpace(text)}
		}
		switch {
		case !utf8.ValidString(p.Text):
			errs = append(errs, fmt.Errorf("line %d: not UTF-8", n))
		case p.Text == "":
			errs = append(errs, fmt.Errorf("line %d: empty prompt", n))
		case len(p.Text) > maxPrompt:
			errs = append(errs, fmt.Errorf("line %d: prompt longer than %d bytes", n, maxPrompt))
		default:
			out = append(out, p)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("line %d: %w", n+1, err))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrPrompts, errors.Join(errs...))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no prompts", ErrPrompts)
	}
	return out, nil
}

func isCategory(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// App is what happened to one prompt's app.
type App struct {
	Prompt Prompt `json:"prompt"`
	// SessionID names the session that generated it.
	SessionID string `json:"session_id,omitempty"`
	// Generated: the session completed and its files were read.
	Generated bool `json:"generated"`
	// Error says why a step failed ("" when none).
	Error string `json:"error,omitempty"`
	Files int    `json:"files"`
	// CleanBefore and CleanAfter: tsc found no errors before the
	// deterministic fixer ran, and after it.
	CleanBefore bool `json:"clean_before"`
	CleanAfter  bool `json:"clean_after"`
	// ErrorsBefore and ErrorsAfter count tsc's errors.
	ErrorsBefore int `json:"errors_before"`
	ErrorsAfter  int `json:"errors_after"`
	// Fixes counts the fixer's repairs; Placeholders the stand-ins it
	// wrote for code that exists nowhere (never counted as fixed).
	Fixes        int `json:"fixes"`
	Placeholders int `json:"placeholders"`
	// Built: the preview bundled.
	Built bool `json:"built"`
	// Rendered: the preview loaded in a browser without errors; nil when
	// no runtime check ran.
	Rendered *bool `json:"rendered,omitempty"`
	// RuntimeMS is how long the runtime check took (after PreviewMS).
	RuntimeMS int64 `json:"runtime_ms,omitempty"`
	// RuntimeProblems are what the runtime check found.
	RuntimeProblems []string `json:"runtime_problems,omitempty"`
	// GenerateMS is the session's generation time; PreviewMS the time
	// from the session's creation to a bundled preview (0 when none).
	GenerateMS int64 `json:"generate_ms"`
	PreviewMS  int64 `json:"preview_ms"`
	// Model usage of the session (zero for the scaffold).
	PromptTokens     uint64  `json:"prompt_tokens"`
	CompletionTokens uint64  `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd"`
}

// Viable: the app was generated, type-checks without placeholders, built,
// and rendered without errors when that was checked.
func (a App) Viable() bool {
	return a.Generated && a.CleanAfter && a.Placeholders == 0 && a.Built && (a.Rendered == nil || *a.Rendered)
}

// Run is one evaluation: the provider, when, and every app.
type Run struct {
	Provider    string    `json:"provider"`
	Model       string    `json:"model,omitempty"`
	PromptFile  string    `json:"prompt_file"`
	Concurrency int       `json:"concurrency"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	Apps        []App     `json:"apps"`
}

// Summary is a run's scoreboard.
type Summary struct {
	Apps      int `json:"apps"`
	Generated int `json:"generated"`
	Viable    int `json:"viable"`
	// ViablePct is Viable over Apps, in percent.
	ViablePct float64 `json:"viable_pct"`
	// CleanBefore and CleanAfter count apps tsc found clean.
	CleanBefore int `json:"clean_before"`
	CleanAfter  int `json:"clean_after"`
	// FixRatePct: of the generated apps with errors, the percentage the
	// fixer made clean without placeholders (0 when none had errors).
	FixRatePct   float64 `json:"fix_rate_pct"`
	NeededFixing int     `json:"needed_fixing"`
	Fixed        int     `json:"fixed"`
	Placeholders int     `json:"placeholders"`
	Built        int     `json:"built"`
	CostUSD      float64 `json:"cost_usd"`
	// CostPerViable is dollars per viable app (0 with none).
	CostPerViable float64 `json:"cost_per_viable_usd"`
	Tokens        uint64  `json:"tokens"`
	// PreviewP50MS and PreviewP90MS are over apps with a preview.
	PreviewP50MS int64 `json:"preview_p50_ms"`
	PreviewP90MS int64 `json:"preview_p90_ms"`
	// RuntimeP50MS is the median time the runtime check added.
	RuntimeP50MS int64 `json:"runtime_check_p50_ms"`
}

// Summarize computes r's scoreboard.
func Summarize(r Run) Summary {
	var s Summary
	var previews, runtimes []int64
	for _, a := range r.Apps {
		if a.RuntimeMS > 0 {
			runtimes = append(runtimes, a.RuntimeMS)
		}
		s.Apps++
		if a.Generated {
			s.Generated++
			if !a.CleanBefore {
				s.NeededFixing++
				if a.CleanAfter && a.Placeholders == 0 {
					s.Fixed++
				}
			}
		}
		if a.Viable() {
			s.Viable++
		}
		if a.CleanBefore {
			s.CleanBefore++
		}
		if a.CleanAfter {
			s.CleanAfter++
		}
		if a.Built {
			s.Built++
		}
		if a.PreviewMS > 0 {
			previews = append(previews, a.PreviewMS)
		}
		s.Placeholders += a.Placeholders
		s.CostUSD += a.CostUSD
		s.Tokens += a.PromptTokens + a.CompletionTokens
	}
	if s.Apps > 0 {
		s.ViablePct = 100 * float64(s.Viable) / float64(s.Apps)
	}
	if s.NeededFixing > 0 {
		s.FixRatePct = 100 * float64(s.Fixed) / float64(s.NeededFixing)
	}
	if s.Viable > 0 {
		s.CostPerViable = s.CostUSD / float64(s.Viable)
	}
	s.PreviewP50MS = percentile(previews, 50)
	s.PreviewP90MS = percentile(previews, 90)
	s.RuntimeP50MS = percentile(runtimes, 50)
	return s
}

// percentile is the nearest-rank percentile of xs (0 for none).
func percentile(xs []int64, p float64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

// Regression is one way a run is worse than its baseline.
type Regression struct {
	// Prompt is the prompt concerned, "" for the whole run.
	Prompt string `json:"prompt,omitempty"`
	What   string `json:"what"`
}

// Thresholds for [Compare]: a summary figure regresses when it drops by
// more than these.
const (
	viableDropPct   = 0.5  // percentage points of viable apps
	fixRateDropPct  = 0.5  // percentage points of the fix rate
	previewSlowdown = 1.25 // p50 time to preview, as a ratio
)

// Compare lists what got worse from base to cur: prompts whose app was
// viable and is not, and summary figures that dropped (viable apps, fix
// rate) or slowed (time to preview, by more than 25%).
func Compare(base, cur Run) []Regression {
	var out []Regression
	was := map[string]bool{}
	for _, a := range base.Apps {
		if a.Viable() {
			was[a.Prompt.Text] = true
		}
	}
	for _, a := range cur.Apps {
		if was[a.Prompt.Text] && !a.Viable() {
			out = append(out, Regression{Prompt: a.Prompt.Text, What: "was viable, is not: " + a.reason()})
		}
	}
	b, c := Summarize(base), Summarize(cur)
	if c.ViablePct < b.ViablePct-viableDropPct {
		out = append(out, Regression{What: fmt.Sprintf("viable apps %.1f%% → %.1f%%", b.ViablePct, c.ViablePct)})
	}
	if b.NeededFixing > 0 && c.NeededFixing > 0 && c.FixRatePct < b.FixRatePct-fixRateDropPct {
		out = append(out, Regression{What: fmt.Sprintf("deterministic fix rate %.1f%% → %.1f%%", b.FixRatePct, c.FixRatePct)})
	}
	if b.PreviewP50MS > 0 && float64(c.PreviewP50MS) > previewSlowdown*float64(b.PreviewP50MS) {
		out = append(out, Regression{What: fmt.Sprintf("time to preview p50 %dms → %dms", b.PreviewP50MS, c.PreviewP50MS)})
	}
	return out
}

// reason says in a few words why an app is not viable.
func (a App) reason() string {
	switch {
	case !a.Generated:
		return "not generated: " + a.Error
	case a.Placeholders > 0:
		return fmt.Sprintf("%d placeholder(s) need a model", a.Placeholders)
	case !a.CleanAfter:
		return fmt.Sprintf("%d type error(s) after the fixer", a.ErrorsAfter)
	case !a.Built:
		return "did not build: " + a.Error
	case a.Rendered != nil && !*a.Rendered:
		if len(a.RuntimeProblems) > 0 {
			return "runtime: " + a.RuntimeProblems[0]
		}
		return "runtime errors"
	}
	return "viable"
}

// ReadRun decodes a run written by [WriteRun].
func ReadRun(r io.Reader) (Run, error) {
	var run Run
	dec := json.NewDecoder(io.LimitReader(r, 256<<20))
	if err := dec.Decode(&run); err != nil {
		return Run{}, fmt.Errorf("eval: read run: %w", err)
	}
	return run, nil
}

// WriteRun encodes run as indented JSON, with its summary.
func WriteRun(w io.Writer, run Run) error {
	b, err := json.MarshalIndent(struct {
		Run
		Summary Summary `json:"summary"`
	}{run, Summarize(run)}, "", "  ")
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
