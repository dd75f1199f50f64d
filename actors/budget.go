package actors

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/pipeline"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	"github.com/stichdev/stich/ratelimit"
)

// Model budgets and users' own model keys:
//
//  1. Every model request of a session that runs on the platform's models
//     is charged (its priced cost) to the session owner's spend of the UTC
//     day, kept in the user grain. Charges are sent in the background and
//     are lost if the node stops before they reach the grain.
//  2. Before each step (a planning, a phase, a fix, a refinement) the
//     session reads the owner's record: with a model key of their own the
//     step runs on it and nothing is charged or refused; else, with a
//     daily budget set ([Config.DailyModelBudgetUSD]) that today's spend
//     has reached, the step fails with resource_exhausted saying when the
//     budget resets (00:00 UTC). The RPC edge refuses new sessions and
//     messages the same way, before any work.
//  3. Builds (each check of a phase, the check after a user's edit, a
//     preview rebuilt on demand) are counted per owner in the bucket
//     "build:user:ID" under [Config.BuildLimit]; a refused build leaves the
//     session without a preview and says why.

// OwnModelKey is a user's own OpenAI-compatible endpoint, opened.
type OwnModelKey struct {
	UserID, BaseURL, Model, APIKey string
}

// Day is t's UTC day: days since 1970-01-01.
func Day(t time.Time) int64 { return int64(math.Floor(float64(t.Unix()) / 86400)) }

// NextReset is the next 00:00 UTC after t.
func NextReset(t time.Time) time.Time {
	return time.Unix((Day(t)+1)*86400, 0).UTC()
}

// MicroUSD converts dollars to the integer millionths budgets count.
func MicroUSD(usd float64) uint64 {
	if usd <= 0 || math.IsNaN(usd) {
		return 0
	}
	return uint64(math.Round(usd * 1e6))
}

// BudgetNow is the clock of budgets: which UTC day a charge counts in.
func (rt *Runtime) BudgetNow() time.Time {
	if rt.cfg.BudgetClock != nil {
		return rt.cfg.BudgetClock()
	}
	return rt.cfg.Now()
}

// DailyModelBudgetUSD is the node's daily model budget per user (0:
// unlimited).
func (rt *Runtime) DailyModelBudgetUSD() float64 { return rt.cfg.DailyModelBudgetUSD }

// NodeKeysConfigured reports whether users may store model keys here.
func (rt *Runtime) NodeKeysConfigured() bool { return rt.cfg.NodeKeys != nil }

// SealModelKey seals apiKey for userID under the node's current key.
func (rt *Runtime) SealModelKey(userID, apiKey string) (keyID string, sealed []byte, err error) {
	if rt.cfg.NodeKeys == nil {
		return "", nil, errors.New("actors: no node key")
	}
	return rt.cfg.NodeKeys.Seal([]byte(apiKey), ModelKeyAD(userID))
}

// OpenModelKey opens a user's sealed model key.
func (rt *Runtime) OpenModelKey(userID string, k *actorsv1.ModelKeyRecord) (OwnModelKey, error) {
	if rt.cfg.NodeKeys == nil {
		return OwnModelKey{}, errors.New("actors: your model key cannot be opened: this node has no node key (stich serve --node-key-file or STICH_NODE_KEY)")
	}
	plain, err := rt.cfg.NodeKeys.Open(k.GetNodeKeyId(), k.GetSealed(), ModelKeyAD(userID))
	if err != nil {
		return OwnModelKey{}, fmt.Errorf("actors: your model key cannot be opened (set it again on the account page): %w", err)
	}
	return OwnModelKey{UserID: userID, BaseURL: k.GetBaseUrl(), Model: k.GetModel(), APIKey: string(plain)}, nil
}

// BudgetError refuses model work past the owner's daily budget.
func (rt *Runtime) budgetError(spent uint64) *Error {
	now := rt.BudgetNow()
	reset := NextReset(now)
	in := reset.Sub(now).Round(time.Minute)
	return &Error{Code: actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, RetryAfter: reset.Sub(now),
		Message: fmt.Sprintf("the daily model budget of $%.2f is used up ($%.2f spent today); it resets at 00:00 UTC, in %s (stich serve --daily-model-budget), or add your own model key on the account page",
			rt.cfg.DailyModelBudgetUSD, float64(spent)/1e6, in)}
}

// CheckModelBudget returns the user's spend today and whether they have a
// key of their own (nothing is read when the budget is unlimited), or an [*Error] with RESOURCE_EXHAUSTED (and the time
// until the budget resets) when the budget is used up. A user without a
// grain (the owner of a node before any sign-in) has spent nothing.
func (rt *Runtime) CheckModelBudget(ctx context.Context, userID string) (*actorsv1.ModelSpendReply, error) {
	day := Day(rt.BudgetNow())
	if rt.cfg.DailyModelBudgetUSD <= 0 {
		return &actorsv1.ModelSpendReply{Day: day}, nil // unlimited: nothing to read
	}
	r, err := Call[*actorsv1.ModelSpendReply](ctx, rt.Node, KindUser, userID, &actorsv1.GetModelSpend{Day: day})
	switch {
	case IsNotFound(err):
		r = &actorsv1.ModelSpendReply{Day: day}
	case err != nil:
		return nil, err
	}
	if !r.GetOwnKey() && rt.overBudget(r.GetMicroUsd()) {
		return r, rt.budgetError(r.GetMicroUsd())
	}
	return r, nil
}

func (rt *Runtime) overBudget(spent uint64) bool {
	b := MicroUSD(rt.cfg.DailyModelBudgetUSD)
	return b > 0 && spent >= b
}

// chargeModelSpend adds usd to userID's spend of today, in the
// background.
func (rt *Runtime) chargeModelSpend(userID string, usd float64) {
	micro := MicroUSD(usd)
	if micro == 0 {
		return
	}
	day := Day(rt.BudgetNow())
	rt.goBackground(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := Call[*actorsv1.ModelSpendReply](ctx, rt.Node, KindUser, userID, &actorsv1.ChargeModelSpend{Day: day, MicroUsd: micro})
		if err != nil && !IsNotFound(err) {
			rt.log.Warn("model spend not charged", "user", userID, "usd", usd, "err", err)
		}
	})
}

// stepProvider decides what a session step of owner runs on: the owner's
// own key (own is true: nothing is charged), or prov after the budget
// check. It reads the owner's record once.
//
// NB: with no budget and no own keys on the node there is nothing to read:
// the step does not depend on the owner's grain being reachable.
func (rt *Runtime) stepProvider(ctx context.Context, owner string, prov codegen.Provider) (p codegen.Provider, own bool, err error) {
	if rt.cfg.DailyModelBudgetUSD <= 0 && (rt.cfg.NodeKeys == nil || rt.cfg.OwnKeyProvider == nil) {
		return prov, false, nil
	}
	r, err := Call[*actorsv1.UserReply](ctx, rt.Node, KindUser, owner, &actorsv1.GetUser{})
	switch {
	case IsNotFound(err):
		return prov, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("actors: read the owner's account: %w", err)
	}
	u := r.GetUser()
	if k := DefaultModelKey(u); k != nil && rt.cfg.OwnKeyProvider != nil {
		p, err := rt.ownProvider(owner, k)
		if err != nil {
			return nil, false, err
		}
		return p, true, nil
	}
	spent := uint64(0)
	if sp := u.GetModelSpend(); sp.GetDay() == Day(rt.BudgetNow()) {
		spent = sp.GetMicroUsd()
	}
	if rt.overBudget(spent) {
		return nil, false, fmt.Errorf("%w: %s", pipeline.ErrQuota, rt.budgetError(spent).Message)
	}
	return prov, false, nil
}

// ownProviders caches the providers of users' own keys, by user and sealed
// key (a key set again gets a new provider).
type ownProviders struct {
	mu sync.Mutex
	m  map[[2]string]codegen.Provider
}

const maxOwnProviders = 1000

func (rt *Runtime) ownProvider(owner string, k *actorsv1.ModelKeyRecord) (codegen.Provider, error) {
	sum := sha256.Sum256(append([]byte(k.GetBaseUrl()+"\x00"+k.GetModel()+"\x00"+k.GetNodeKeyId()+"\x00"), k.GetSealed()...))
	key := [2]string{owner, string(sum[:])}
	rt.own.mu.Lock()
	p, ok := rt.own.m[key]
	rt.own.mu.Unlock()
	if ok {
		return p, nil
	}
	opened, err := rt.OpenModelKey(owner, k)
	if err != nil {
		return nil, err
	}
	p, err = rt.cfg.OwnKeyProvider(opened)
	if err != nil {
		return nil, fmt.Errorf("actors: your model key: %w", err)
	}
	rt.own.mu.Lock()
	if rt.own.m == nil || len(rt.own.m) >= maxOwnProviders {
		rt.own.m = map[[2]string]codegen.Provider{}
	}
	rt.own.m[key] = p
	rt.own.mu.Unlock()
	return p, nil
}

// takeBuild counts a build of owner's apps; the error says why it is
// refused (the build limit, with the retry delay).
func takeBuild(ctx context.Context, n *cluster.Node, rule ratelimit.Rule, owner string) error {
	if rule.Limit == 0 {
		return nil
	}
	d, err := Call[*actorsv1.RateLimitReply](ctx, n, KindRateLimit, "build:user:"+owner,
		&actorsv1.RateLimitCheck{Rule: rule.Proto(), Cost: 1})
	if err != nil {
		return fmt.Errorf("the build limit cannot be checked now: %w", err)
	}
	if !d.GetAllowed() {
		after := time.Duration(d.GetRetryAfterMs()) * time.Millisecond
		return fmt.Errorf("too many builds of your apps (%s limit, stich serve --build-limit); retry in %s", d.GetLimitedBy(), after.Round(time.Second))
	}
	return nil
}
