// Package ratelimit decides whether a request fits a sliding-window limit.
// It owns the counting: 10 s slots for the main and burst windows and hour
// slots for the rolling 24 h limit, as the reference system's bucket objects
// count. It is pure (the caller passes the clock and persists the state) and
// must not import actors, rpc or cluster.
package ratelimit

import (
	"errors"
	"fmt"
	"time"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// Slot is the width of a counting slot of the main and burst windows.
const Slot = 10 * time.Second

const day = 24 * time.Hour

// Rule is a limit on one action for one key.
type Rule struct {
	// Limit requests per Window (a multiple of Slot). Required.
	Limit  uint32
	Window time.Duration
	// BurstLimit requests per BurstWindow (a multiple of Slot); 0 disables.
	BurstLimit  uint32
	BurstWindow time.Duration
	// DailyLimit requests per rolling 24 h (counted per hour); 0 disables.
	DailyLimit uint32
}

// Validate reports every problem with the rule.
func (r Rule) Validate() error {
	var errs []error
	if r.Limit == 0 {
		errs = append(errs, errors.New("ratelimit: limit must be positive"))
	}
	if r.Window < Slot || r.Window%Slot != 0 {
		errs = append(errs, fmt.Errorf("ratelimit: window %s must be a positive multiple of %s", r.Window, Slot))
	}
	if r.Window > day {
		errs = append(errs, fmt.Errorf("ratelimit: window %s is longer than 24h", r.Window))
	}
	if r.BurstLimit > 0 && (r.BurstWindow < Slot || r.BurstWindow%Slot != 0 || r.BurstWindow > r.Window) {
		errs = append(errs, fmt.Errorf("ratelimit: burst window %s must be a multiple of %s no longer than the window", r.BurstWindow, Slot))
	}
	return errors.Join(errs...)
}

// RuleFromProto converts the wire form of a rule.
func RuleFromProto(p *actorsv1.RateLimitRule) Rule {
	return Rule{
		Limit: p.GetLimit(), Window: time.Duration(p.GetWindowSeconds()) * time.Second,
		BurstLimit: p.GetBurstLimit(), BurstWindow: time.Duration(p.GetBurstWindowSeconds()) * time.Second,
		DailyLimit: p.GetDailyLimit(),
	}
}

// Proto converts the rule to its wire form.
func (r Rule) Proto() *actorsv1.RateLimitRule {
	return &actorsv1.RateLimitRule{
		Limit: r.Limit, WindowSeconds: uint32(r.Window / time.Second),
		BurstLimit: r.BurstLimit, BurstWindowSeconds: uint32(r.BurstWindow / time.Second),
		DailyLimit: r.DailyLimit,
	}
}

// Decision is the outcome of [Take].
type Decision struct {
	Allowed bool
	// RetryAfter is how long until the request would fit (when refused).
	RetryAfter time.Duration
	// Remaining requests in the tightest window after this one.
	Remaining uint32
	// LimitedBy names the refusing limit: "window", "burst" or "daily".
	LimitedBy string
}

// Take counts cost requests at now against rule if they fit, and returns
// the decision. It prunes slots that no window can see any more. A refused
// request is not counted.
func Take(st *actorsv1.RateLimitState, rule Rule, cost uint32, now time.Time) Decision {
	if st.Slots == nil {
		st.Slots = map[int64]uint32{}
	}
	if st.Hours == nil {
		st.Hours = map[int64]uint32{}
	}
	slot := now.Truncate(Slot).Unix()
	hour := now.Truncate(time.Hour).Unix()
	prune(st, rule, now)

	type limit struct {
		name  string
		max   uint32
		used  uint32
		retry time.Duration
	}
	var limits []limit
	used, retry := windowUse(st.Slots, slot, rule.Window, Slot, rule.Limit, cost, now)
	limits = append(limits, limit{"window", rule.Limit, used, retry})
	if rule.BurstLimit > 0 {
		used, retry := windowUse(st.Slots, slot, rule.BurstWindow, Slot, rule.BurstLimit, cost, now)
		limits = append(limits, limit{"burst", rule.BurstLimit, used, retry})
	}
	if rule.DailyLimit > 0 {
		used, retry := windowUse(st.Hours, hour, day, time.Hour, rule.DailyLimit, cost, now)
		limits = append(limits, limit{"daily", rule.DailyLimit, used, retry})
	}
	d := Decision{Allowed: true, Remaining: ^uint32(0)}
	for _, l := range limits {
		if uint64(l.used)+uint64(cost) > uint64(l.max) {
			if !d.Allowed && l.retry <= d.RetryAfter {
				continue
			}
			d.Allowed, d.RetryAfter, d.LimitedBy = false, l.retry, l.name
		}
	}
	if !d.Allowed {
		d.Remaining = 0
		return d
	}
	st.Slots[slot] += cost
	st.Hours[hour] += cost
	for _, l := range limits {
		if left := l.max - l.used - cost; left < d.Remaining {
			d.Remaining = left
		}
	}
	return d
}

// windowUse returns the count inside the window ending in the slot cur and,
// if cost more would not fit, how long until enough old slots expire.
func windowUse(slots map[int64]uint32, cur int64, window, width time.Duration, max, cost uint32, now time.Time) (uint32, time.Duration) {
	first := cur - int64(window/time.Second) + int64(width/time.Second)
	var used uint32
	for start, n := range slots {
		if start >= first && start <= cur {
			used += n
		}
	}
	if uint64(used)+uint64(cost) <= uint64(max) {
		return used, 0
	}
	if cost > max {
		return used, window // can never fit; report a whole window
	}
	// Expire slots oldest first until the request fits.
	left := used
	for s := first; s <= cur; s += int64(width / time.Second) {
		left -= slots[s]
		if uint64(left)+uint64(cost) <= uint64(max) {
			expires := time.Unix(s, 0).Add(window)
			return used, max1(expires.Sub(now))
		}
	}
	return used, window
}

func max1(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	return d.Round(time.Second)
}

func prune(st *actorsv1.RateLimitState, rule Rule, now time.Time) {
	oldest := now.Add(-rule.Window).Truncate(Slot).Unix()
	for s := range st.Slots {
		if s < oldest {
			delete(st.Slots, s)
		}
	}
	oldestHour := now.Add(-day).Truncate(time.Hour).Unix()
	for h := range st.Hours {
		if h < oldestHour {
			delete(st.Hours, h)
		}
	}
}

// Forget drops every count older than 24 h (the longest window any rule
// may have) and reports whether nothing is left: such a bucket can be
// deleted.
func Forget(st *actorsv1.RateLimitState, now time.Time) bool {
	prune(st, Rule{Window: day}, now)
	return len(st.GetSlots()) == 0 && len(st.GetHours()) == 0
}
