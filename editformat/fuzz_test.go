package editformat

import (
	"strings"
	"testing"
)

var fuzzCurrent = map[string]string{
	"src/App.tsx":  "import { a } from './a';\nexport default function App() {\n  return <div>{a}</div>;\n}\n",
	"src/a.ts":     "export const a = 1;\nexport const b = 2;\n",
	"package.json": "{\n  \"name\": \"x\"\n}\n",
}

// FuzzParser feeds arbitrary answers, split at an arbitrary point and in
// arbitrary chunk sizes. The parser must not panic, must emit only valid
// paths in a well-formed event sequence with files within the limit, must
// emit no more prose than it was given, and must give the same coalesced
// events whatever the split.
func FuzzParser(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.answer, uint16(len(fx.answer)/2), uint8(7))
	}
	for _, s := range []string{
		"<file path=\"src/a.ts\">\nx\n</file>\n",
		"```diff\n--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1 +1 @@\n-export const a = 1;\n+export const a = 2;\n```\n",
		"src/a.ts\n<<<<<<< SEARCH\nexport const b = 2;\n=======\nexport const b = 3;\n>>>>>>> REPLACE\n",
		"<file path=\"../x.ts\">\n</file>\n<delete path=\"src/a.ts\"/>",
		"```ts\n// src/b.ts\n```\n--- a/src/a.ts\n+++ /dev/null\n",
		"<file path=\"a.md\">\n```\n```\n```\n</file>",
	} {
		f.Add(s, uint16(3), uint8(1))
	}
	opts := Options{MaxFileBytes: 4096, MaxFiles: 8, Protected: []string{"package.json"}}
	f.Fuzz(func(t *testing.T, answer string, split uint16, size uint8) {
		if len(answer) > 1<<16 {
			return
		}
		whole := parseChunks(fuzzCurrent, opts, answer)
		checkWellFormed(t, whole, opts)
		prose, lines := 0, strings.Count(answer, "\n")+1
		for _, ev := range whole {
			if ev.Kind == Prose {
				prose += len(ev.Data)
			}
		}
		if prose > len(answer) {
			t.Fatalf("%d bytes of prose from %d bytes of answer", prose, len(answer))
		}
		if len(whole) > 4*lines+8 {
			t.Fatalf("%d events from %d lines", len(whole), lines)
		}
		i := int(split) % (len(answer) + 1)
		n := int(size)%32 + 1
		var chunks []string
		chunks = append(chunks, answer[:i])
		for rest := answer[i:]; rest != ""; {
			k := min(n, len(rest))
			chunks = append(chunks, rest[:k])
			rest = rest[k:]
		}
		split2 := parseChunks(fuzzCurrent, opts, chunks...)
		checkWellFormed(t, split2, opts)
		if a, b := render(Coalesce(whole)), render(Coalesce(split2)); a != b {
			t.Fatalf("split changes events\n--- whole\n%s\n--- split\n%s", a, b)
		}
	})
}
