package ratelimit

import (
	"testing"
	"time"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

var t0 = time.Unix(1_800_000_000, 0) // a multiple of 10 s

func TestWindowLimitAndRetryAfter(t *testing.T) {
	st := &actorsv1.RateLimitState{}
	rule := Rule{Limit: 3, Window: time.Minute}
	for i := 0; i < 3; i++ {
		d := Take(st, rule, 1, t0.Add(time.Duration(i)*10*time.Second))
		if !d.Allowed || d.Remaining != uint32(2-i) {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d := Take(st, rule, 1, t0.Add(25*time.Second))
	if d.Allowed || d.LimitedBy != "window" {
		t.Fatalf("4th request allowed: %+v", d)
	}
	// The oldest slot (t0) leaves the 60 s window at t0+60s: 35 s later.
	if d.RetryAfter != 35*time.Second {
		t.Fatalf("retry after %s, want 35s", d.RetryAfter)
	}
	if d := Take(st, rule, 1, t0.Add(60*time.Second)); !d.Allowed {
		t.Fatalf("after the window slid: %+v", d)
	}
}

func TestBurstAndDaily(t *testing.T) {
	st := &actorsv1.RateLimitState{}
	rule := Rule{Limit: 100, Window: time.Hour, BurstLimit: 2, BurstWindow: 10 * time.Second, DailyLimit: 5}
	Take(st, rule, 1, t0)
	Take(st, rule, 1, t0.Add(time.Second))
	d := Take(st, rule, 1, t0.Add(2*time.Second))
	if d.Allowed || d.LimitedBy != "burst" || d.RetryAfter != 8*time.Second {
		t.Fatalf("burst: %+v", d)
	}
	for i := 1; i <= 3; i++ {
		if d := Take(st, rule, 1, t0.Add(time.Duration(i)*time.Minute)); !d.Allowed {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d = Take(st, rule, 1, t0.Add(5*time.Minute))
	if d.Allowed || d.LimitedBy != "daily" {
		t.Fatalf("daily: %+v", d)
	}
	if d.RetryAfter < 23*time.Hour || d.RetryAfter > 24*time.Hour {
		t.Fatalf("daily retry after %s", d.RetryAfter)
	}
	if d := Take(st, rule, 1, t0.Add(25*time.Hour)); !d.Allowed {
		t.Fatalf("next day: %+v", d)
	}
	if len(st.Slots) > 1 || len(st.Hours) > 1 {
		t.Fatalf("old slots not pruned: %d slots, %d hours", len(st.Slots), len(st.Hours))
	}
}

func TestRefusedRequestsAreNotCounted(t *testing.T) {
	st := &actorsv1.RateLimitState{}
	rule := Rule{Limit: 1, Window: 10 * time.Second}
	Take(st, rule, 1, t0)
	for i := 0; i < 5; i++ {
		Take(st, rule, 1, t0.Add(time.Second))
	}
	if d := Take(st, rule, 1, t0.Add(10*time.Second)); !d.Allowed {
		t.Fatalf("refused requests were counted: %+v", d)
	}
	if d := Take(st, rule, 5, t0.Add(30*time.Second)); d.Allowed || d.RetryAfter != 10*time.Second {
		t.Fatalf("cost above the limit: %+v", d)
	}
}

func TestRuleValidate(t *testing.T) {
	if err := (Rule{Limit: 1, Window: 15 * time.Second}).Validate(); err == nil {
		t.Fatal("15s window accepted")
	}
	if err := (Rule{Window: time.Minute}).Validate(); err == nil {
		t.Fatal("zero limit accepted")
	}
	if err := (Rule{Limit: 1, Window: time.Minute, BurstLimit: 1, BurstWindow: 2 * time.Minute}).Validate(); err == nil {
		t.Fatal("burst window longer than window accepted")
	}
	r := Rule{Limit: 5, Window: time.Minute, BurstLimit: 2, BurstWindow: 10 * time.Second, DailyLimit: 9}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := RuleFromProto(r.Proto()); got != r {
		t.Fatalf("round trip %+v", got)
	}
}
