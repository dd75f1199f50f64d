package fixer

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stichdev/stich/sandbox"
)

var rewrite = flag.Bool("rewrite", false, "re-record parser facts and rewrite golden files under testdata/")

// recorded is the first fixer pass's input for a corpus case: what tsc
// reported and what the parser said. TestPlanGolden replays it without a
// sandbox.
type recorded struct {
	Diagnostics []sandbox.Diagnostic `json:"diagnostics"`
	Facts       json.RawMessage      `json:"facts"`
}

// TestPlanGolden replays every corpus case's first pass through the
// planner and compares the fixes and file changes with
// testdata/plan/<case>.golden. With -rewrite it re-records tsc's
// diagnostics and the parser's facts in the sandbox first.
func TestPlanGolden(t *testing.T) {
	cases := loadCorpus(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recFile := filepath.Join("testdata", "plan", c.name+".json")
			if *rewrite {
				record(t, c, recFile)
			}
			raw, err := os.ReadFile(recFile)
			if err != nil {
				t.Fatalf("%v (run with -rewrite to record it)", err)
			}
			var rec recorded
			if err := json.Unmarshal(raw, &rec); err != nil {
				t.Fatal(err)
			}
			req := buildRequest(rec.Diagnostics, c.files)
			fc, err := decodeFacts(rec.Facts, req.Files)
			if err != nil {
				t.Fatal(err)
			}
			res := plan(rec.Diagnostics, c.files, fc)
			again := plan(rec.Diagnostics, c.files, fc)
			if describe(res, c.files) != describe(again, c.files) {
				t.Fatal("plan is not deterministic")
			}
			golden(t, filepath.Join("plan", c.name+".golden"), describe(res, c.files))
		})
	}
}

// record runs tsc and the parser for case c and saves their output.
func record(t *testing.T, c corpusCase, file string) {
	t.Helper()
	e := setupEnv(t)
	ctx := context.Background()
	id := "record-" + c.name
	if err := e.local.Prepare(ctx, id); err != nil {
		t.Fatal(err)
	}
	defer e.local.Cleanup(ctx, id)
	if err := e.local.WriteFiles(ctx, id, c.files); err != nil {
		t.Fatal(err)
	}
	diags, _, err := sandbox.TypeCheck(ctx, e.local, id, sandbox.TypeCheckOptions{Mounts: e.mounts})
	if err != nil {
		t.Fatal(err)
	}
	var relevant []sandbox.Diagnostic
	for _, d := range diags {
		if handled(d.Code) && d.File != "" {
			relevant = append(relevant, d)
		}
	}
	facts, err := e.fixer.parse(ctx, id, buildRequest(relevant, c.files), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Compact: the facts are long and only read by this test.
	b, err := json.Marshal(recorded{Diagnostics: diags, Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// describe renders a Result for a golden file: the fixes, the unfixable
// diagnostics and a line diff of every changed file.
func describe(r Result, files map[string]string) string {
	var b strings.Builder
	for _, f := range r.Fixes {
		fmt.Fprintf(&b, "fix TS%d %s:%d [%s] %s\n", f.Code, f.File, f.Line, f.Kind, f.Description)
		if f.Before != "" {
			fmt.Fprintf(&b, "  before: %s\n", indent(f.Before))
		}
		if f.After != "" && f.Kind == KindEdit && !strings.Contains(f.Description, "create ") {
			fmt.Fprintf(&b, "  after:  %s\n", indent(f.After))
		}
	}
	for _, f := range r.NeedsModel {
		fmt.Fprintf(&b, "needs-model TS%d %s:%d %s\n", f.Code, f.File, f.Line, f.Description)
	}
	for _, d := range r.Unfixable {
		fmt.Fprintf(&b, "unfixable %s\n", d)
	}
	if len(r.Install) > 0 {
		fmt.Fprintf(&b, "install %s\n", strings.Join(r.Install, " "))
	}
	var paths []string
	for p := range r.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		old, existed := files[p]
		if !existed {
			fmt.Fprintf(&b, "\n=== new %s\n%s", p, r.Files[p])
			continue
		}
		fmt.Fprintf(&b, "\n=== %s\n%s", p, lineDiff(old, r.Files[p]))
	}
	return b.String()
}

func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n          ")
}

// lineDiff prints the lines that differ between a and b ("-" and "+"),
// with one line of context, from a longest common subsequence.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte
		text string
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			ops = append(ops, op{' ', x[i]})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, op{'+', y[j]})
			j++
		default:
			ops = append(ops, op{'-', x[i]})
			i++
		}
	}
	var out strings.Builder
	printed := -1
	for k, o := range ops {
		if o.kind == ' ' {
			continue
		}
		for c := max(k-1, printed+1); c < k; c++ {
			if ops[c].kind == ' ' {
				if c > printed+1 && printed >= 0 {
					out.WriteString("  ...\n")
				}
				fmt.Fprintf(&out, "  %s\n", ops[c].text)
			}
		}
		fmt.Fprintf(&out, "%c %s\n", o.kind, o.text)
		printed = k
		if k+1 < len(ops) && ops[k+1].kind == ' ' {
			fmt.Fprintf(&out, "  %s\n", ops[k+1].text)
			printed = k + 1
		}
	}
	return out.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *rewrite {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -rewrite after checking):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
