package actors

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// KindUsers is the users index grain kind: one grain (identity
// [UsersIndex]) with a summary of every user, for the admin users page.
// User grains report to it when they change and when they activate (so
// accounts made before the index existed appear once they are used); the
// index may lag a change by one message, and is never the authority: a
// user's own grain is.
//
// NB: one grain for every user: its entries (a few hundred bytes each) are
// all held in memory while it is active, about 30 MB for 100,000 users.
const KindUsers = "users"

// UsersIndex is the identity of the one users index grain.
const UsersIndex = "all"

const prefixUserEntry = "u/" // u/<user id> -> UserEntry

// ListUserEntries page bounds.
const (
	DefaultUsersPage = 50
	MaxUsersPage     = 200
)

type usersGrain struct {
	rt      *Runtime
	ref     *cluster.GrainRef
	entries map[string]*actorsv1.UserEntry // nil until loaded
}

func newUsersGrain(rt *Runtime, ref *cluster.GrainRef) *usersGrain {
	return &usersGrain{rt: rt, ref: ref}
}

func (g *usersGrain) Receive(ctx actor.Context) {
	receiveStored(ctx, g.ref, g.rt.log, "the users index", g)
}

func (g *usersGrain) load() error {
	if g.entries != nil {
		return nil
	}
	entries := map[string]*actorsv1.UserEntry{}
	err := g.ref.Store.List(prefixUserEntry, "", 0, func(key string, v []byte) error {
		e := &actorsv1.UserEntry{}
		if err := proto.Unmarshal(v, e); err != nil {
			return fmt.Errorf("actors: decode user entry %s: %w", key, err)
		}
		entries[e.GetUserId()] = e
		return nil
	})
	if err != nil {
		return err
	}
	g.entries = entries
	return nil
}

// userBefore orders entries newest account first, then by id.
func userBefore(a, b *actorsv1.UserEntry) int {
	if c := b.GetCreatedAt().AsTime().Compare(a.GetCreatedAt().AsTime()); c != 0 {
		return c
	}
	return cmp.Compare(a.GetUserId(), b.GetUserId())
}

func (g *usersGrain) handle(msg proto.Message) proto.Message {
	switch m := msg.(type) {
	case *actorsv1.UpsertUserEntry:
		e := m.GetEntry()
		if e.GetUserId() == "" {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "a user entry needs a user id")
		}
		if old, ok := g.entries[e.GetUserId()]; ok && old.GetReportedAt() >= e.GetReportedAt() {
			return &actorsv1.UpsertUserEntryReply{}
		}
		v, err := proto.Marshal(e)
		if err == nil {
			err = g.ref.Store.Put(prefixUserEntry+e.GetUserId(), v)
		}
		if err != nil {
			return writeErr("save user entry", err)
		}
		g.entries[e.GetUserId()] = proto.Clone(e).(*actorsv1.UserEntry)
		return &actorsv1.UpsertUserEntryReply{}
	case *actorsv1.ListUserEntries:
		return g.list(m)
	}
	return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "users grain does not handle %T", msg)
}

func (g *usersGrain) list(m *actorsv1.ListUserEntries) proto.Message {
	limit := int(m.GetLimit())
	if limit <= 0 {
		limit = DefaultUsersPage
	}
	limit = min(limit, MaxUsersPage)
	q := strings.ToLower(strings.TrimSpace(m.GetQuery()))
	all := make([]*actorsv1.UserEntry, 0, len(g.entries))
	for _, e := range g.entries {
		if q == "" || strings.Contains(strings.ToLower(e.GetEmail()), q) || strings.Contains(strings.ToLower(e.GetDisplayName()), q) ||
			strings.Contains(e.GetUserId(), q) {
			all = append(all, e)
		}
	}
	slices.SortFunc(all, userBefore)
	start := 0
	if m.GetAfterUserId() != "" {
		cursor := &actorsv1.UserEntry{UserId: m.GetAfterUserId(), CreatedAt: m.GetAfterCreatedAt()}
		start, _ = slices.BinarySearchFunc(all, cursor, userBefore)
		if start < len(all) && all[start].GetUserId() == cursor.GetUserId() {
			start++
		}
	}
	end := min(start+limit, len(all))
	return &actorsv1.ListUserEntriesReply{Entries: all[start:end], More: end < len(all), Total: uint32(len(all))}
}

// reportUser tells the users index about u, on a goroutine the runtime
// tracks. A report that fails is logged and dropped: the next change or
// activation repairs the entry.
func (g *userGrain) reportUser(u *actorsv1.UserRecord) {
	e := userEntry(u)
	// NB: strictly increasing within an activation, even if the clock is not.
	e.ReportedAt = max(g.rt.cfg.Now().UnixNano(), g.lastReport+1)
	g.lastReport = e.ReportedAt
	g.rt.goBackground(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, reportTimeout)
		defer cancel()
		if _, err := Call[*actorsv1.UpsertUserEntryReply](ctx, g.rt.Node, KindUsers, UsersIndex, &actorsv1.UpsertUserEntry{Entry: e}); err != nil && ctx.Err() == nil {
			g.rt.log.Warn("users index report failed", "user", e.GetUserId(), "err", err)
		}
	})
}

// ListUsers reads a page of the users index (empty before any report).
func ListUsers(ctx context.Context, n *cluster.Node, req *actorsv1.ListUserEntries) (*actorsv1.ListUserEntriesReply, error) {
	r, err := Call[*actorsv1.ListUserEntriesReply](ctx, n, KindUsers, UsersIndex, req)
	if IsNotFound(err) {
		return &actorsv1.ListUserEntriesReply{}, nil
	}
	return r, err
}

// userEntry is the index's summary of u.
func userEntry(u *actorsv1.UserRecord) *actorsv1.UserEntry {
	return &actorsv1.UserEntry{UserId: u.GetId(), Email: u.GetEmail(), DisplayName: u.GetDisplayName(), Role: u.GetRole(),
		CreatedAt: u.GetCreatedAt(), EmailVerified: u.GetEmailVerified(), Disabled: u.GetDisabled(), LastSignInAt: u.GetLastSignInAt()}
}
