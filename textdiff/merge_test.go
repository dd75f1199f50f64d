package textdiff

import "testing"

func TestMerge3(t *testing.T) {
	base := "a\nb\nc\nd\ne\n"
	for _, tc := range []struct {
		name, ours, theirs, want string
		ok                       bool
	}{
		{"disjoint edits", "a\nB\nc\nd\ne\n", "a\nb\nc\nD\ne\n", "a\nB\nc\nD\ne\n", true},
		{"ours only", "a\nB\nc\nd\ne\n", base, "a\nB\nc\nd\ne\n", true},
		{"theirs only", base, "x\na\nb\nc\nd\ne\n", "x\na\nb\nc\nd\ne\n", true},
		{"same edit both sides", "a\nB\nc\nd\ne\n", "a\nB\nc\nD\ne\n", "a\nB\nc\nD\ne\n", true},
		{"insert and delete apart", "a\nb\nc\nd\ne\nf\n", "b\nc\nd\ne\n", "b\nc\nd\ne\nf\n", true},
		{"same line differently", "a\nB\nc\nd\ne\n", "a\nX\nc\nd\ne\n", "", false},
		{"insert at the same place", "a\nb\nours\nc\nd\ne\n", "a\nb\ntheirs\nc\nd\ne\n", "", false},
		{"theirs deletes what ours edits", "a\nb\nC\nd\ne\n", "a\nb\nd\ne\n", "", false},
		{"no final newline", "a\nb\nc\nd\ne", "A\nb\nc\nd\ne\n", "A\nb\nc\nd\ne", true},
	} {
		got, ok := Merge3(base, tc.ours, tc.theirs)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: Merge3 = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCount(t *testing.T) {
	if a, r := Count("a\nb\nc\n", "a\nB\nc\nd\n"); a != 2 || r != 1 {
		t.Errorf("Count = +%d -%d, want +2 -1", a, r)
	}
	if a, r := Count("", "x\ny\n"); a != 2 || r != 0 {
		t.Errorf("Count of a new file = +%d -%d, want +2 -0", a, r)
	}
	if a, r := Count("same\n", "same\n"); a != 0 || r != 0 {
		t.Errorf("Count of equal texts = +%d -%d", a, r)
	}
}
