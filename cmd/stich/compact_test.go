package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stichdev/stich/internal/testutil"
)

// TestWatchCompactedLog: stich watch of a session whose log was compacted
// prints the LogCompacted notice and every remaining event, exits 0, and
// from a seq inside the compacted range announces the rest of the range.
func TestWatchCompactedLog(t *testing.T) {
	node := startNode(t, t.TempDir(), "--session-compact-after", "10ms")
	code, out, errs := runCLI(t, "generate", "--server", node.url, "--json", "a contact form")
	if code != 0 {
		t.Fatalf("generate: exit %d\n%s", code, errs)
	}
	var head map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &head); err != nil {
		t.Fatalf("generate's first line: %v", err)
	}
	id := fmt.Sprint(head["session_id"])

	// events parses watch --json output: the notice (if any) and the seqs.
	type notice struct{ from, to uint64 }
	events := func(out string) (*notice, []map[string]any) {
		t.Helper()
		var n *notice
		var evs []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("not JSON: %q", l)
			}
			if c, ok := ev["log_compacted"].(map[string]any); ok {
				from, _ := strconv.ParseUint(fmt.Sprint(c["from_seq"]), 10, 64)
				to, _ := strconv.ParseUint(fmt.Sprint(c["to_seq"]), 10, 64)
				n = &notice{from, to}
				continue
			}
			evs = append(evs, ev)
		}
		return n, evs
	}
	var c *notice
	var evs []map[string]any
	testutil.WaitFor(t, 60*time.Second, func() error {
		code, out, errs := runCLI(t, "watch", "--server", node.url, "--json", id)
		if code != 0 {
			return fmt.Errorf("watch: exit %d: %s", code, errs)
		}
		if c, evs = events(out); c == nil {
			return fmt.Errorf("not compacted yet")
		}
		return nil
	})
	if c.from == 0 || c.to < c.from {
		t.Fatalf("notice %+v", *c)
	}
	var prev uint64
	for _, ev := range evs {
		seq, _ := strconv.ParseUint(fmt.Sprint(ev["seq"]), 10, 64)
		if _, chunk := ev["file_chunk"]; chunk && seq >= c.from && seq <= c.to {
			t.Fatalf("chunk at seq %d inside the compacted range %+v", seq, *c)
		}
		if seq != prev+1 && (prev+1 < c.from || seq-1 > c.to) {
			t.Fatalf("seq %d after %d: a gap outside the compacted range %+v", seq, prev, *c)
		}
		prev = seq
	}
	if _, ok := evs[len(evs)-1]["completed"]; !ok {
		t.Fatalf("the last event is not completed: %v", evs[len(evs)-1])
	}

	// From inside the range: the notice names the rest of it.
	inside := c.from + (c.to-c.from)/2
	code, out, errs = runCLI(t, "watch", "--server", node.url, "--json", "--after-seq", strconv.FormatUint(inside, 10), id)
	if code != 0 {
		t.Fatalf("watch --after-seq %d: exit %d: %s", inside, code, errs)
	}
	if c2, _ := events(out); c2 == nil || c2.from != inside+1 || c2.to != c.to {
		t.Fatalf("watch --after-seq %d: notice %v, want %d-%d", inside, c2, inside+1, c.to)
	}
	// From its end: no notice.
	code, out, _ = runCLI(t, "watch", "--server", node.url, "--json", "--after-seq", strconv.FormatUint(c.to, 10), id)
	if c3, _ := events(out); code != 0 || c3 != nil {
		t.Fatalf("watch --after-seq %d: exit %d, notice %v", c.to, code, c3)
	}
	// The text output says what was compacted and where the files are.
	code, out, errs = runCLI(t, "watch", "--server", node.url, id)
	if code != 0 || !strings.Contains(out, "were compacted; the files are in version 1") || !strings.Contains(out, "✓ completed") {
		t.Fatalf("watch: exit %d\n%s\n%s", code, out, errs)
	}
}
