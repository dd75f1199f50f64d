package actors

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// Re-sealing users' model keys after a node key rotation.
//
// An operator rotates by putting a new key first in the node key file
// (stich nodekey new FILE) and restarting the nodes with it, the older key
// kept below it. The older key then only opens: every node, when it starts
// with more than one key, walks the users index and asks each user grain
// to seal again, under the current key, every model key an older key
// sealed ([actorsv1.ResealModelKeys]); a user grain also does so whenever
// it loads. When the walk reports no key left under an older node key
// ("model keys re-sealed" in the log, remaining=0), the operator removes
// the older key from the file.

// ResealReport sums a walk over every user's model keys.
type ResealReport struct {
	Users    int // users asked
	Resealed int // keys sealed again under the current node key
	Current  int // keys that were under the current node key already
	Failed   int // keys that did not open, or users that did not answer
}

// resealState holds the report of the last finished startup walk.
type resealState struct {
	last atomic.Pointer[ResealReport]
}

// ResealModelKeys asks every user in the users index to seal again, under
// the current node key, each model key an older node key sealed. It
// returns what it did; err is set when the index could not be read (a
// user that does not answer only counts as failed).
func (rt *Runtime) ResealModelKeys(ctx context.Context) (ResealReport, error) {
	var rep ResealReport
	if rt.cfg.NodeKeys == nil {
		return rep, nil
	}
	req := &actorsv1.ListUserEntries{Limit: MaxUsersPage}
	for {
		page, err := ListUsers(ctx, rt.Node, req)
		if err != nil {
			return rep, fmt.Errorf("actors: read the users index: %w", err)
		}
		for _, e := range page.GetEntries() {
			rep.Users++
			r, err := Call[*actorsv1.ResealModelKeysReply](ctx, rt.Node, KindUser, e.GetUserId(), &actorsv1.ResealModelKeys{})
			switch {
			case IsNotFound(err):
			case err != nil:
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				rep.Failed++
				rt.log.Warn("model keys not re-sealed", "user", e.GetUserId(), "err", err)
			default:
				rep.Resealed += int(r.GetResealed())
				rep.Current += int(r.GetCurrent())
				rep.Failed += int(r.GetFailed())
			}
		}
		if !page.GetMore() || len(page.GetEntries()) == 0 {
			return rep, nil
		}
		last := page.GetEntries()[len(page.GetEntries())-1]
		req = &actorsv1.ListUserEntries{Limit: MaxUsersPage, AfterUserId: last.GetUserId(), AfterCreatedAt: last.GetCreatedAt()}
	}
}

// LastModelKeyReseal is the report of the walk this node ran when it
// started with more than one node key; ok is false before it finished
// (or when the node holds one key).
func (rt *Runtime) LastModelKeyReseal() (rep ResealReport, ok bool) {
	if p := rt.reseal.last.Load(); p != nil {
		return *p, true
	}
	return ResealReport{}, false
}

// startResealWalk runs [Runtime.ResealModelKeys] in the background when
// the ring holds older keys, again after a pause while the users index
// cannot be read (the cluster still forming) or a user did not answer,
// and logs the outcome.
func (rt *Runtime) startResealWalk() {
	if rt.cfg.NodeKeys == nil || len(rt.cfg.NodeKeys.IDs()) < 2 {
		return
	}
	rt.goBackground(func(ctx context.Context) {
		pause := time.Second
		for attempt := 1; ; attempt++ {
			rep, err := rt.ResealModelKeys(ctx)
			if ctx.Err() != nil {
				return
			}
			if err == nil && (rep.Failed == 0 || attempt >= 5) {
				rt.reseal.last.Store(&rep)
				lvl := "model keys re-sealed under the current node key"
				if rep.Failed == 0 {
					rt.log.Info(lvl, "current", rt.cfg.NodeKeys.Current(), "users", rep.Users, "resealed", rep.Resealed,
						"remaining", 0, "next", "the older node keys may now be removed from the key file")
				} else {
					rt.log.Warn(lvl, "current", rt.cfg.NodeKeys.Current(), "users", rep.Users, "resealed", rep.Resealed,
						"remaining", rep.Failed, "next", "keep the older node keys: some model keys did not open or their users did not answer")
				}
				return
			}
			if err != nil {
				rt.log.Warn("model key re-seal walk", "attempt", attempt, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, 30*time.Second)
		}
	})
}
