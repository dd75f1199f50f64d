//go:build ignore

// gen writes the fixer's "world" corpus (../cases): apps written
// independently of stich's scaffold templates (bases1.go, bases2.go), each
// broken by two or three of the mistakes language models make in React +
// TypeScript apps, labelled "fixable" (a repair follows from the code
// alone) or "intent" (only the author knows what was meant), with the
// expected repair as assertions on the fixed files.
//
//	go run ./fixer/testdata/world/gen/*.go   (from the repository root)
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

type ed struct{ file, old, new string }

// want asserts on a fixed file: "contains", "lacks" or "matches" (a Go
// regular expression).
type want struct{ file, op, text string }

type mistake struct {
	id, about string
	intent    bool
	// syntax: a parse error the fixer cannot repair, which hides the
	// other mistakes' diagnostics (tsc stops at syntax errors), so their
	// repairs are not expected.
	syntax bool
	edits  []ed
	wants  []want
}

type base struct {
	name string
	// heldout: the second batch (bases3.go); set, when not "", names
	// another batch (bases4.go: "heldout-3").
	heldout  bool
	set      string
	files    map[string]string
	mistakes []mistake
}

func main() {
	out := filepath.Join("fixer", "testdata", "world", "cases")
	if err := os.RemoveAll(out); err != nil {
		panic(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		panic(err)
	}
	n := 0
	for _, b := range []base{todoZustand, blogRouter, weatherAlias, ticTacToe, expenses, landing, pomodoro, kanbanAlias, memory, contacts, quizRouter, statsDashboard, recipesFeature, habitsFlat, inventoryServices, libraryCatalog, meetupsMixed} {
		if dir := os.Getenv("GEN_BASES"); dir != "" {
			// Debugging aid: the unbroken apps, to check they type-check.
			for p, c := range b.files {
				f := filepath.Join(dir, b.name, p)
				if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
					panic(err)
				}
				if err := os.WriteFile(f, []byte(c), 0o644); err != nil {
					panic(err)
				}
			}
		}
		k := len(b.mistakes)
		var combos [][]int
		for i := range k {
			combos = append(combos, []int{i, (i + 1) % k})
		}
		for i := 0; i < 2 && k >= 6; i++ {
			combos = append(combos, []int{i, i + 2, i + 4})
		}
		for _, c := range combos {
			text, ok := render(b, c)
			if !ok {
				fmt.Fprintf(os.Stderr, "skip %s %v: edits overlap\n", b.name, c)
				continue
			}
			var ids []string
			for _, i := range c {
				ids = append(ids, b.mistakes[i].id)
			}
			n++
			name := fmt.Sprintf("%03d-%s-%s.txt", n, b.name, strings.Join(ids, "+"))
			if err := os.WriteFile(filepath.Join(out, name), []byte(text), 0o644); err != nil {
				panic(err)
			}
		}
	}
	fmt.Printf("wrote %d cases to %s\n", n, out)
}

// render applies the mistakes in order to the base and prints the case.
func render(b base, combo []int) (string, bool) {
	files := map[string]string{}
	for p, c := range b.files {
		files[p] = c
	}
	label := "fixable"
	var about []string
	var wants []want
	for _, i := range combo {
		m := b.mistakes[i]
		if m.intent {
			label = "intent"
		}
		about = append(about, m.about)
		for _, e := range m.edits {
			if strings.Count(files[e.file], e.old) != 1 {
				return "", false
			}
			files[e.file] = strings.Replace(files[e.file], e.old, e.new, 1)
		}
		wants = append(wants, m.wants...)
	}
	for _, i := range combo {
		if b.mistakes[i].syntax {
			wants = nil
		}
	}
	var s strings.Builder
	fmt.Fprintf(&s, "label: %s\n", label)
	switch {
	case b.set != "":
		fmt.Fprintf(&s, "set: %s\n", b.set)
	case b.heldout:
		s.WriteString("set: heldout\n")
	}
	fmt.Fprintf(&s, "about: %s\n", strings.Join(about, "; "))
	for _, w := range wants {
		fmt.Fprintf(&s, "want: %s %s %s\n", w.file, w.op, strconv.Quote(w.text))
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(&s, "-- %s --\n%s", p, files[p])
		if !strings.HasSuffix(files[p], "\n") {
			s.WriteString("\n")
		}
	}
	return s.String(), true
}
