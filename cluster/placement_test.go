package cluster

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files under testdata/")

func members(spec ...string) []NodeMeta {
	var out []NodeMeta
	for _, s := range spec {
		name, region, _ := strings.Cut(s, "@")
		out = append(out, NodeMeta{Name: name, Region: region, Kinds: []string{"session", "ratelimit"}})
	}
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "placement", name+".golden")
	if *rewrite {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite)", err)
	}
	if string(want) != got {
		t.Fatalf("%s differs from golden:\n%s", path, got)
	}
}

func TestPlacementGolden(t *testing.T) {
	views := map[string][]NodeMeta{
		"three":          members("a@eu", "b@eu", "c@us"),
		"three-minus-b":  members("a@eu", "c@us"),
		"four-plus-d":    members("a@eu", "b@eu", "c@us", "d@us"),
		"order-shuffled": members("c@us", "a@eu", "b@eu"),
	}
	ids := []string{"s-aaaaaaaaaaaaaaaaaaaa", "s-bbbbbbbbbbbbbbbbbbbb", "s-cccccccccccccccccccc", "s-dddddddddddddddddddd",
		"s-eeeeeeeeeeeeeeeeeeee.us", "s-ffffffffffffffffffff.eu", "s-gggggggggggggggggggg.ap", "create:ip:192.0.2.7"}
	for _, name := range []string{"three", "three-minus-b", "four-plus-d", "order-shuffled"} {
		var b strings.Builder
		for _, id := range ids {
			var names []string
			for _, m := range Rank("session", id, views[name]) {
				names = append(names, m.Name)
			}
			fmt.Fprintf(&b, "%-28s %s\n", id, strings.Join(names, " "))
		}
		golden(t, name, b.String())
	}
}

func TestPlacementContract(t *testing.T) {
	view := members("a@eu", "b@eu", "c@us", "d@us", "e@ap")
	view = append(view, NodeMeta{Name: "web-only", Region: "eu", Kinds: []string{"web"}})
	counts := map[string]int{}
	moved := 0
	without := members("a@eu", "b@eu", "c@us", "d@us")
	for i := 0; i < 5000; i++ {
		id := fmt.Sprintf("s-%020d", i)
		full := Rank("session", id, view)
		if len(full) != 5 {
			t.Fatalf("rank has %d members; the web-only member serves no sessions", len(full))
		}
		one, _ := Lookup("session", id, view)
		if fast, _ := lookupFast("session", id+".us", view); fast.Name != Rank("session", id+".us", view)[0].Name {
			t.Fatal("lookupFast disagrees with Rank")
		}
		if fast, _ := lookupFast("session", id, view); fast.Name != one.Name {
			t.Fatal("lookupFast disagrees with Lookup")
		}
		two := LookupN("session", id, view, 2)
		if one.Name != full[0].Name || two[0].Name != full[0].Name || two[1].Name != full[1].Name {
			t.Fatal("Lookup/LookupN disagree with Rank")
		}
		counts[one.Name]++
		// Removing e moves only the grains e owned.
		after, _ := Lookup("session", id, without)
		if after.Name != one.Name {
			moved++
			if one.Name != "e" {
				t.Fatalf("%s moved from %s to %s when e left", id, one.Name, after.Name)
			}
		}
		// Region hints keep grains in their region.
		if m, _ := Lookup("session", id+".us", view); m.Region != "us" {
			t.Fatalf("%s.us placed in %s", id, m.Region)
		}
		noRegions := make([]NodeMeta, len(view))
		for j, m := range view {
			m.Region = ""
			noRegions[j] = m
		}
		if m, _ := Lookup("session", id+".mars", view); m.Name != mustLookup(t, id+".mars", noRegions).Name {
			t.Fatal("a hint for a region with no members changed placement")
		}
	}
	for name, c := range counts {
		if c < 800 || c > 1200 {
			t.Errorf("%s owns %d of 5000 grains; want about 1000", name, c)
		}
	}
	if moved != counts["e"] {
		t.Fatalf("moved %d, e owned %d", moved, counts["e"])
	}
}

func mustLookup(t *testing.T, id string, view []NodeMeta) NodeMeta {
	m, ok := Lookup("session", id, view)
	if !ok {
		t.Fatal("no owner")
	}
	return m
}
