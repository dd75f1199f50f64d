package audit

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func ev(kind, user, client string, at time.Time) *Event {
	return &Event{Kind: kind, UserId: user, Client: client, At: timestamppb.New(at)}
}

func seqs(es []*Event) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.GetSeq())
	}
	return out
}

func TestAppendNumbersAndBounds(t *testing.T) {
	var log []*Event
	for i := range 5 {
		var put []*Event
		var del []uint64
		log, put, del = Append(log, []*Event{ev(SignIn, "u-a", fmt.Sprint("10.0.0.", i), t0)}, t0, 3)
		if len(put) != 1 || put[0].GetSeq() != uint64(i+1) || put[0].GetCount() != 1 {
			t.Fatalf("append %d: put %v", i, put)
		}
		if want := max(0, i-2); len(del) != min(1, want) || (len(del) == 1 && del[0] != uint64(i-2)) {
			t.Fatalf("append %d: del %v", i, del)
		}
	}
	if got := seqs(log); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Fatalf("log seqs %v, want the last 3", got)
	}
}

func TestAppendMergesRepeats(t *testing.T) {
	log, _, _ := Append(nil, []*Event{ev(CredentialsRefused, "", "10.0.0.1", t0), ev(SignIn, "u-a", "10.0.0.2", t0)}, t0, 100)
	// A repeat within the window merges (and moves to the top); one past
	// it, or from another client, does not.
	log, put, del := Append(log, []*Event{ev(CredentialsRefused, "", "10.0.0.1", t0.Add(30*time.Second))}, t0, 100)
	if len(log) != 2 || log[1].GetCount() != 2 || log[1].GetSeq() != 3 || !slices.Equal(del, []uint64{1}) || len(put) != 1 {
		t.Fatalf("merge: log %v put %v del %v", log, put, del)
	}
	log, _, _ = Append(log, []*Event{ev(CredentialsRefused, "", "10.0.0.9", t0.Add(40*time.Second))}, t0, 100)
	log, _, _ = Append(log, []*Event{ev(CredentialsRefused, "", "10.0.0.1", t0.Add(5*time.Minute))}, t0, 100)
	if len(log) != 4 {
		t.Fatalf("no merge expected: log %v", log)
	}
	// What succeeded does not merge.
	if log, _, _ := Append(nil, []*Event{ev(SignIn, "u-a", "c", t0), ev(SignIn, "u-a", "c", t0)}, t0, 100); len(log) != 2 {
		t.Fatalf("sign-ins merged: %v", log)
	}
	// Repeats inside one batch merge too: one put, no delete of an unstored seq.
	log, put, del = Append(nil, []*Event{ev(CSRFRefused, "u-a", "c", t0), ev(CSRFRefused, "u-a", "c", t0), ev(CSRFRefused, "u-a", "c", t0)}, t0, 100)
	if len(log) != 1 || log[0].GetCount() != 3 || len(put) != 1 || len(del) != 0 {
		t.Fatalf("batch merge: log %v put %v del %v", log, put, del)
	}
}

func TestAppendDefaultsAndCleans(t *testing.T) {
	log, _, _ := Append(nil, []*Event{{Kind: SignIn, Detail: strings.Repeat("é", 400)}}, t0, 10)
	e := log[0]
	if !e.GetAt().AsTime().Equal(t0) || e.GetCount() != 1 || len(e.GetDetail()) > maxField || !strings.HasPrefix(e.GetDetail(), "é") {
		t.Fatalf("event %v", e)
	}
	for _, r := range e.GetDetail() {
		if r != 'é' {
			t.Fatalf("detail cut inside a rune: %q", e.GetDetail())
		}
	}
}

func TestPage(t *testing.T) {
	var log []*Event
	for i := range 10 {
		kind, user := SignIn, "u-a"
		if i%2 == 1 {
			kind, user = KeyCreated, "u-b"
		}
		e := ev(kind, user, fmt.Sprint(i), t0)
		if user == "u-b" {
			e.Email = "B@example.com"
		}
		log, _, _ = Append(log, []*Event{e}, t0, 100)
	}
	for _, tc := range []struct {
		name   string
		f      Filter
		before uint64
		limit  int
		want   []uint64
		next   uint64
	}{
		{"all", Filter{}, 0, 4, []uint64{10, 9, 8, 7}, 7},
		{"second page", Filter{}, 7, 4, []uint64{6, 5, 4, 3}, 3},
		{"last page", Filter{}, 3, 4, []uint64{2, 1}, 0},
		{"exact fit", Filter{}, 5, 4, []uint64{4, 3, 2, 1}, 0},
		{"kind", Filter{Kinds: []string{KeyCreated}}, 0, 3, []uint64{10, 8, 6}, 6},
		{"user", Filter{UserID: "u-a"}, 0, 10, []uint64{9, 7, 5, 3, 1}, 0},
		{"email", Filter{Email: "b@EXAMPLE.com"}, 8, 10, []uint64{6, 4, 2}, 0},
		{"none", Filter{Kinds: []string{RoleChanged}}, 0, 10, nil, 0},
		{"cursor past the end", Filter{}, 1, 10, nil, 0},
		{"cursor above the newest", Filter{}, 99, 2, []uint64{10, 9}, 9},
	} {
		got, next := Page(log, tc.f, tc.before, tc.limit)
		if !slices.Equal(seqs(got), tc.want) || next != tc.next {
			t.Errorf("%s: got %v next %d, want %v next %d", tc.name, seqs(got), next, tc.want, tc.next)
		}
	}
}
