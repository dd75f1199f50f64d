package editformat

import (
	"fmt"
	"strings"
	"testing"
)

// bigAnswer builds a realistic answer of about size bytes: prose, whole
// files in tags and fences, SEARCH/REPLACE and diff edits against current.
func bigAnswer(size int) (answer string, current map[string]string) {
	component := func(i int) string {
		return fmt.Sprintf(`import { useMemo, useState } from 'react';
import type { Item } from '../types';
import { formatDate } from '../lib/format';

export interface Props%[1]d {
  items: Item[];
  onSelect: (id: string) => void;
}

export function List%[1]d({ items, onSelect }: Props%[1]d) {
  const [query, setQuery] = useState('');
  const visible = useMemo(
    () => items.filter((it) => it.title.toLowerCase().includes(query.toLowerCase())),
    [items, query],
  );
  return (
    <section className="list">
      <input value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Search…" />
      <ul>
        {visible.map((it) => (
          <li key={it.id} onClick={() => onSelect(it.id)}>
            <strong>{it.title}</strong> <time>{formatDate(it.createdAt)}</time>
          </li>
        ))}
      </ul>
    </section>
  );
}
`, i)
	}
	current = map[string]string{}
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		p := fmt.Sprintf("src/components/List%d.tsx", i)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "Now the list component number %d, which filters items by a query.\n\n<file path=%q purpose=\"Filterable list\">\n%s</file>\n\n", i, p, component(i))
		case 1:
			fmt.Fprintf(&b, "```tsx path=%s\n%s```\n\n", p, component(i))
		case 2:
			current[p] = component(i)
			fmt.Fprintf(&b, "%s\n```tsx\n<<<<<<< SEARCH\n  const [query, setQuery] = useState('');\n=======\n  const [query, setQuery] = useState<string>('');\n>>>>>>> REPLACE\n```\n\n", p)
		case 3:
			current[p] = component(i)
			fmt.Fprintf(&b, "```diff\n--- a/%[1]s\n+++ b/%[1]s\n@@ -20,3 +20,3 @@\n       <ul>\n-        {visible.map((it) => (\n+        {visible.slice(0, 100).map((it) => (\n           <li key={it.id} onClick={() => onSelect(it.id)}>\n```\n\n", p)
		}
	}
	return b.String(), current
}

func TestBigAnswerParses(t *testing.T) {
	answer, current := bigAnswer(64 << 10)
	evs := parseChunks(current, Options{}, answer)
	checkWellFormed(t, evs, Options{})
	files := 0
	for _, ev := range evs {
		switch ev.Kind {
		case BlockError:
			t.Fatalf("unexpected error: %v", ev.Err)
		case FileDone:
			files++
		}
	}
	if files < 40 {
		t.Fatalf("only %d files", files)
	}
}

// BenchmarkParser parses a ~1 MiB answer fed in token-sized (16 B) and
// network-sized (4 KiB) writes.
func BenchmarkParser(b *testing.B) {
	answer, current := bigAnswer(1 << 20)
	for _, size := range []int{16, 4096} {
		b.Run(fmt.Sprintf("write=%d", size), func(b *testing.B) {
			b.SetBytes(int64(len(answer)))
			b.ReportAllocs()
			for b.Loop() {
				p := NewParser(current, Options{MaxFiles: 10000})
				for i := 0; i < len(answer); i += size {
					if _, err := p.Write(answer[i:min(i+size, len(answer))]); err != nil {
						b.Fatal(err)
					}
				}
				p.Close()
			}
		})
	}
}
