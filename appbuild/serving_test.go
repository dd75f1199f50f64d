package appbuild

import (
	"context"
	"maps"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stichdev/stich/preview"
	"github.com/stichdev/stich/scaffold"
)

// stepLog records a check's sub-steps and when the preview was served.
type stepLog struct {
	mu    sync.Mutex
	steps []string
}

func (s *stepLog) step(name string, ended bool, _ time.Duration, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ended {
		s.steps = append(s.steps, name+" "+outcome)
	} else {
		s.steps = append(s.steps, name)
	}
}

func (s *stepLog) add(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, what)
}

func (s *stepLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.steps, ", ")
}

// CheckServing serves the preview before the type-check; when the fixer
// then changes a file, the preview is bundled again and Rebuilt says the
// served one was replaced.
func TestCheckServingServesBeforeTheTypeCheck(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	files, err := scaffold.Files(scaffold.Plan("a recipe tracker with ingredients and ratings", nil))
	if err != nil {
		t.Fatal(err)
	}
	w := New(Config{Runner: r, Fixer: NewLazyFixer(r)}, "s-appbuildserve1", "/", "")
	defer w.Close(ctx)

	var sl stepLog
	var lg logs
	var served *preview.Preview
	serve := func(p *preview.Preview) {
		served = p
		sl.add("served")
	}
	out, err := w.CheckServing(ctx, files, true, lg.add, sl.step, serve)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, strings.Join(lg.lines, "\n"))
	}
	if want := "install, install ok: copied the prepared set, bundle, bundle ok, served, typecheck, typecheck ok"; sl.String() != want &&
		sl.String() != strings.Replace(want, "ok: copied the prepared set", "ok", 1) {
		t.Errorf("steps: %s, want %s", sl.String(), want)
	}
	if served == nil || out.Preview != served || w.Preview() != served || out.Rebuilt {
		t.Fatalf("clean app: served %p, outcome %p (rebuilt %v), workspace %p", served, out.Preview, out.Rebuilt, w.Preview())
	}

	// A React hook used without its import bundles (esbuild needs no
	// types) and fails the type-check; the fixer adds the import.
	app := files["src/components/RecipesPage.tsx"]
	imp := regexp.MustCompile(`(?m)^import \{[^}]*\buseState\b[^}]*\} from "react";\n`)
	if !imp.MatchString(app) {
		t.Fatalf("the scaffold's RecipesPage.tsx imports no useState from react:\n%s", app)
	}
	broken := maps.Clone(files)
	broken["src/components/RecipesPage.tsx"] = imp.ReplaceAllString(app, "")
	sl = stepLog{}
	served = nil
	out, err = w.CheckServing(ctx, broken, true, lg.add, sl.step, serve)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Fixes) == 0 || len(out.Remaining) != 0 || !strings.Contains(out.Fixed["src/components/RecipesPage.tsx"], "useState") {
		t.Fatalf("fixer: initial %v, fixes %+v, remaining %v", out.Initial, out.Fixes, out.Remaining)
	}
	if served == nil || out.Preview == nil || out.Preview == served || !out.Rebuilt || w.Preview() != out.Preview {
		t.Fatalf("fixed app: served %p, outcome %p (rebuilt %v), workspace %p; steps %s", served, out.Preview, out.Rebuilt, w.Preview(), sl.String())
	}
	if !strings.HasPrefix(sl.String(), "bundle, bundle ok, served, typecheck") || !strings.HasSuffix(sl.String(), "bundle, bundle ok") {
		t.Errorf("steps of the fixed app: %s", sl.String())
	}
}
