package sandbox

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files under testdata/")

// golden compares got with testdata file name, or rewrites it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *rewrite {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file (run with -rewrite after checking):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestParseTSCGolden parses real tsc 7 output captured in the sandbox
// (testdata/tsc/*.txt; noise.txt adds npm noise, CRLF, continuation lines
// and malformed lines by hand).
func TestParseTSCGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "tsc", "*.txt"))
	if err != nil || len(inputs) < 4 {
		t.Fatalf("inputs %v, %v", inputs, err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".txt")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			diags := ParseTSC(string(raw), AppDir)
			out, err := json.MarshalIndent(diags, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("tsc", name+".golden.json"), append(out, '\n'))
			// String renders each diagnostic's first line as tsc printed it.
			var plainLines []string
			for _, line := range strings.Split(strings.ReplaceAll(string(raw), "\r", ""), "\n") {
				plainLines = append(plainLines, strings.TrimPrefix(line, AppDir+"/"))
			}
			plain := strings.Join(plainLines, "\n")
			for _, d := range diags {
				if first, _, _ := strings.Cut(d.String(), "\n"); !strings.Contains(plain, first) {
					t.Errorf("String() %q is not in the input", first)
				}
			}
		})
	}
}

func TestParseTSCShapes(t *testing.T) {
	out := "src/a.ts(1,2): error TS2304: Cannot find name 'x'.\n  more\n    deeper\nerror TS18003: No inputs.\n/app/src/b.ts(3,4): warning TS6133: 'y' unused.\n"
	got := ParseTSC(out, "/app/")
	want := []Diagnostic{
		{Code: 2304, Category: "error", File: "src/a.ts", Line: 1, Column: 2, Message: "Cannot find name 'x'.\nmore\ndeeper"},
		{Code: 18003, Category: "error", Message: "No inputs."},
		{Code: 6133, Category: "warning", File: "src/b.ts", Line: 3, Column: 4, Message: "'y' unused."},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("diagnostic %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if ParseTSC("", "/app") != nil {
		t.Error("empty output should give no diagnostics")
	}
}

func FuzzParseTSC(f *testing.F) {
	inputs, _ := filepath.Glob(filepath.Join("testdata", "tsc", "*.txt"))
	for _, in := range inputs {
		b, _ := os.ReadFile(in)
		f.Add(string(b))
	}
	f.Add("a(1,1): error TS1: x\n  y")
	f.Fuzz(func(t *testing.T, s string) {
		diags := ParseTSC(s, AppDir)
		if len(diags) > maxDiagnostics {
			t.Fatalf("%d diagnostics", len(diags))
		}
		for _, d := range diags {
			if d.Code < 0 || d.Line < 0 || d.Column < 0 {
				t.Fatalf("negative field in %+v", d)
			}
			if d.File == "" && (d.Line != 0 || d.Column != 0) {
				t.Fatalf("position without a file: %+v", d)
			}
		}
	})
}
