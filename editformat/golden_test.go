package editformat

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGolden parses every recorded answer and compares the events and the
// resulting files with testdata/answers/NAME.golden (go test -rewrite
// updates them).
func TestGolden(t *testing.T) {
	for _, f := range loadFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			evs := parseChunks(f.current, Options{Protected: DefaultProtected}, f.answer)
			checkWellFormed(t, evs, Options{})
			got := "# " + strings.ReplaceAll(strings.TrimSpace(f.desc), "\n", "\n# ") + "\n\n" +
				render(Coalesce(evs)) + "\n# files after the answer\n" + renderFiles(filesAfter(f.current, evs))
			golden := filepath.Join("testdata", "answers", f.name+".golden")
			if *rewrite {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -rewrite)", err)
			}
			if got != string(want) {
				t.Errorf("events differ from %s (go test -rewrite to update):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestSplitInvariance feeds every recorded answer split at every byte
// boundary, in three pieces at random, byte by byte and in random sizes,
// and requires the same (coalesced) events as one Write.
func TestSplitInvariance(t *testing.T) {
	opts := Options{Protected: DefaultProtected}
	for _, f := range loadFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			want := render(Coalesce(parseChunks(f.current, opts, f.answer)))
			a := f.answer
			check := func(how string, chunks ...string) {
				t.Helper()
				evs := parseChunks(f.current, opts, chunks...)
				checkWellFormed(t, evs, opts)
				if got := render(Coalesce(evs)); got != want {
					t.Fatalf("%s: events differ\n--- got\n%s\n--- want\n%s", how, got, want)
				}
			}
			for i := 0; i <= len(a); i++ {
				check("split at "+itoa(i), a[:i], a[i:])
			}
			bytes := make([]string, len(a))
			for i := 0; i < len(a); i++ {
				bytes[i] = a[i : i+1]
			}
			check("byte by byte", bytes...)
			rng := rand.New(rand.NewPCG(1, uint64(len(a))))
			for range 200 {
				i := rng.IntN(len(a) + 1)
				j := i + rng.IntN(len(a)-i+1)
				check("split at "+itoa(i)+","+itoa(j), a[:i], a[i:j], a[j:])
			}
			for range 50 {
				var chunks []string
				for rest := a; rest != ""; {
					n := min(1+rng.IntN(24), len(rest))
					chunks = append(chunks, rest[:n])
					rest = rest[n:]
				}
				check("random sizes", chunks...)
			}
		})
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
