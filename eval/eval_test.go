package eval

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParsePrompts(t *testing.T) {
	ps, err := ParsePrompts(strings.NewReader("# comment\n\ncrud: a recipe tracker\na bare prompt: with a colon\ngame:  snake \n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Prompt{{"crud", "a recipe tracker"}, {"other", "a bare prompt: with a colon"}, {"game", "snake"}}
	if len(ps) != len(want) {
		t.Fatalf("got %v", ps)
	}
	for i := range want {
		if ps[i] != want[i] {
			t.Errorf("prompt %d = %+v, want %+v", i, ps[i], want[i])
		}
	}
	for _, bad := range []string{"", "# only comments\n", "crud:\n", "x: " + strings.Repeat("a", maxPrompt+1) + "\n", "ok\n\xff\xfe\n"} {
		if _, err := ParsePrompts(strings.NewReader(bad)); !errors.Is(err, ErrPrompts) {
			t.Errorf("ParsePrompts(%.40q) = %v, want ErrPrompts", bad, err)
		}
	}
}

// The built-in prompt set is large and spread over the categories.
func TestDefaultPrompts(t *testing.T) {
	ps, err := ParsePrompts(strings.NewReader(DefaultPrompts))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 50 {
		t.Fatalf("%d prompts, want 50+", len(ps))
	}
	per := map[string]int{}
	for _, p := range ps {
		per[p.Category]++
	}
	for _, c := range []string{"crud", "dashboard", "game", "tool", "form", "landing"} {
		if per[c] < 5 {
			t.Errorf("category %s has %d prompts", c, per[c])
		}
	}
}

func app(text string, viable bool, previewMS int64, cost float64) App {
	a := App{Prompt: Prompt{"crud", text}, Generated: true, CleanBefore: viable, CleanAfter: viable, Built: viable, PreviewMS: previewMS, CostUSD: cost}
	if !viable {
		a.ErrorsAfter = 2
	}
	return a
}

func TestSummarizeAndCompare(t *testing.T) {
	fixed := app("fixed", true, 3000, 0.02)
	fixed.CleanBefore, fixed.ErrorsBefore, fixed.Fixes = false, 3, 3
	placeholder := app("placeholder", true, 4000, 0.02)
	placeholder.CleanBefore, placeholder.Placeholders = false, 1
	base := Run{Apps: []App{app("a", true, 1000, 0.01), app("b", true, 2000, 0.01), fixed, placeholder}}
	s := Summarize(base)
	if s.Viable != 3 || s.NeededFixing != 2 || s.Fixed != 1 || s.FixRatePct != 50 || s.PreviewP50MS != 2000 || s.Placeholders != 1 {
		t.Fatalf("summary %+v", s)
	}
	if got := s.CostPerViable; got < 0.0199 || got > 0.0201 {
		t.Errorf("cost per viable app %v, want 0.06/3", got)
	}
	if regs := Compare(base, base); len(regs) != 0 {
		t.Errorf("a run regresses against itself: %v", regs)
	}
	cur := Run{Apps: []App{app("a", true, 9000, 0.01), app("b", false, 0, 0.01), fixed, placeholder}}
	regs := Compare(base, cur)
	var whats []string
	for _, r := range regs {
		whats = append(whats, r.Prompt+": "+r.What)
	}
	got := strings.Join(whats, "\n")
	for _, want := range []string{"b: was viable, is not: 2 type error(s)", ": viable apps 75.0% → 50.0%", ": time to preview p50"} {
		if !strings.Contains(got, want) {
			t.Errorf("regressions lack %q:\n%s", want, got)
		}
	}
}

func TestRunRoundTripAndHTML(t *testing.T) {
	run := Run{Provider: "scaffold", PromptFile: "p.txt", Concurrency: 2, Started: time.Unix(0, 0).UTC(), Finished: time.Unix(90, 0).UTC(),
		Apps: []App{app("a <script>", true, 1500, 0), app("b", false, 0, 0)}}
	var b bytes.Buffer
	if err := WriteRun(&b, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"viable_pct": 50`) {
		t.Errorf("run.json lacks its summary:\n%s", b.String())
	}
	back, err := ReadRun(&b)
	if err != nil || len(back.Apps) != 2 || back.Apps[0].Prompt.Text != "a <script>" {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	var h bytes.Buffer
	if err := WriteHTML(&h, run, &run, "base.json"); err != nil {
		t.Fatal(err)
	}
	page := h.String()
	for _, want := range []string{"<svg", "Viable apps by category", "1/2 (50.0%)", "a &lt;script&gt;", "2 type error(s) after the fixer"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "http") {
		t.Error("report has a script or loads something from elsewhere")
	}
}
