package scaffold

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestZZDebug(t *testing.T) {
	prompts := strings.Split(os.Getenv("PROMPTS"), "|")
	for _, p := range prompts {
		parts := strings.Split(p, "##")
		bp := Plan(parts[0], parts[1:])
		fmt.Printf("== %q\n  title=%q kind=%s project=%s\n  desc=%q\n", p, bp.Title, bp.AppKind, bp.ProjectName, bp.Description)
		for _, e := range bp.Entities {
			var fs []string
			for _, f := range e.Fields {
				fs = append(fs, f.Name+":"+f.Type)
			}
			fmt.Printf("  entity %s: %s\n", e.Name, strings.Join(fs, ", "))
		}
		for _, v := range bp.Views {
			fmt.Printf("  view %s — %s\n", v.Name, v.Description)
		}
		fmt.Printf("  palette %v pitfalls %d\n", bp.ColorPalette, len(bp.Pitfalls))
		if _, err := Files(bp); err != nil {
			fmt.Println("  FILES ERROR", err)
		}
	}
}

func TestZZDump(t *testing.T) {
	dir := os.Getenv("DUMP")
	for i, p := range strings.Split(os.Getenv("PROMPTS"), "|") {
		parts := strings.Split(p, "##")
		bp := Plan(parts[0], parts[1:])
		files, err := Files(bp)
		if err != nil {
			t.Fatal(err)
		}
		for path, c := range files {
			full := fmt.Sprintf("%s/app%d/%s", dir, i, path)
			os.MkdirAll(full[:strings.LastIndex(full, "/")], 0o755)
			os.WriteFile(full, []byte(c), 0o644)
		}
	}
}

func TestZZDumpSamples(t *testing.T) {
	dir := os.Getenv("DUMP")
	for _, a := range sampleApps {
		files, err := Files(a.plan())
		if err != nil {
			t.Fatal(err)
		}
		for path, c := range files {
			full := fmt.Sprintf("%s/%s/%s", dir, a.name, path)
			os.MkdirAll(full[:strings.LastIndex(full, "/")], 0o755)
			os.WriteFile(full, []byte(c), 0o644)
		}
	}
}
