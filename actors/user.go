package actors

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// KindUser is the user grain kind; its identity is the user id.
const KindUser = "user"

// maxAPIKeys bounds the live API keys of one user.
const maxAPIKeys = 100

const keyUser = "user"

// userGrain is one user: profile, role, plan, password hash and the
// SHA-256 of each live API key. The record is durable (replicated like
// every durable grain), small, and held whole in memory while active.
type userGrain struct {
	rt  *Runtime
	ref *cluster.GrainRef
	rec *actorsv1.UserRecord // nil: not loaded; empty id: no such user
	// lastReport is the reported_at of the last report to the users index.
	lastReport int64
}

func newUserGrain(rt *Runtime, ref *cluster.GrainRef) *userGrain {
	return &userGrain{rt: rt, ref: ref}
}

func (g *userGrain) Receive(ctx actor.Context) {
	if receiveStored(ctx, g.ref, g.rt.log, "the account "+g.ref.Identity, g) && g.rec.GetId() == "" {
		// NB: an unknown user (a made-up key, where the cluster cannot
		// rule it out without activating: a lone node) has nothing to
		// keep in memory: leave soon, so such keys cannot pile up grains.
		ctx.SetReceiveTimeout(unknownUserLinger)
	}
}

// ErrMsgDisabled is the message of a grain's refusal to give a disabled
// account a key or session.
const ErrMsgDisabled = "this account is disabled; ask an administrator"

// unknownUserLinger is how long the grain of a user that does not exist
// stays in memory after a call.
const unknownUserLinger = time.Second

// Token purposes of [actorsv1.UserToken].
const (
	TokenVerify = "verify"
	TokenReset  = "reset"
)

// isBrowser reports whether k is a browser session (records made before
// the browser flag carry only its label).
func isBrowser(k *actorsv1.APIKeyRecord) bool {
	return k.GetBrowser() || k.GetLabel() == "browser session"
}

func (g *userGrain) load() error {
	if g.rec != nil {
		return nil
	}
	rec := &actorsv1.UserRecord{}
	b, err := g.ref.Store.Get(keyUser)
	switch {
	case errors.Is(err, cluster.ErrNotFound):
	case err != nil:
		return fmt.Errorf("actors: read user: %w", err)
	default:
		if err := proto.Unmarshal(b, rec); err != nil {
			return fmt.Errorf("actors: decode user: %w", err)
		}
	}
	migrateModelKey(rec)
	g.rec = rec
	if rec.GetId() != "" {
		g.reportUser(rec) // accounts made before the index appear once used
	}
	g.reseal()
	return nil
}

func (g *userGrain) save(next *actorsv1.UserRecord) *actorsv1.GrainError {
	b, err := proto.Marshal(next)
	if err == nil {
		err = g.ref.Store.Put(keyUser, b)
	}
	if err != nil {
		return writeErr("save user", err)
	}
	prev := g.rec
	g.rec = next
	if !proto.Equal(userEntry(prev), userEntry(next)) {
		g.reportUser(next)
	}
	return nil
}

func (g *userGrain) notFound() *actorsv1.GrainError {
	return grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "no account %s", g.ref.Identity)
}

func (g *userGrain) handle(msg proto.Message) proto.Message {
	exists := g.rec.GetId() != ""
	switch m := msg.(type) {
	case *actorsv1.EnsureUser:
		if exists {
			return &actorsv1.UserReply{User: g.rec}
		}
		next := proto.Clone(m.GetTemplate()).(*actorsv1.UserRecord)
		next.Id, next.ApiKeys = g.ref.Identity, nil
		if next.GetRole() == actorsv1.UserRole_USER_ROLE_UNSPECIFIED {
			next.Role = actorsv1.UserRole_USER_ROLE_USER
		}
		next.CreatedAt = timestamppb.New(g.rt.cfg.Now())
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	case *actorsv1.GetUser:
		if !exists {
			return g.notFound()
		}
		return &actorsv1.UserReply{User: g.rec}
	case *actorsv1.CheckAPIKey:
		// NB: an unknown user and an unknown or wrong key answer the same.
		reply := &actorsv1.CheckAPIKeyReply{NoUser: !exists}
		now := g.rt.cfg.Now()
		for _, k := range g.rec.GetApiKeys() {
			live := k.GetExpiresAt() == nil || now.Before(k.GetExpiresAt().AsTime())
			if live && k.GetId() == m.GetKeyId() && subtle.ConstantTimeCompare([]byte(k.GetHash()), []byte(m.GetHash())) == 1 {
				reply.Valid, reply.Role = true, g.rec.GetRole()
			}
		}
		if reply.Valid && g.rec.GetDisabled() {
			// NB: the key matched: only then is "disabled" said.
			reply.Valid, reply.Role, reply.Disabled = false, actorsv1.UserRole_USER_ROLE_UNSPECIFIED, true
		}
		return reply
	case *actorsv1.AddAPIKey:
		if !exists {
			return g.notFound()
		}
		k := m.GetKey()
		if len(k.GetId()) != 16 || len(k.GetHash()) != 64 {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "a key needs a 16-digit id and a SHA-256")
		}
		if g.rec.GetDisabled() {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, ErrMsgDisabled)
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		now := g.rt.cfg.Now()
		if isBrowser(k) {
			next.LastSignInAt = timestamppb.New(now)
		}
		// Expired keys (ended browser sessions) make room.
		next.ApiKeys = slices.DeleteFunc(next.ApiKeys, func(k *actorsv1.APIKeyRecord) bool {
			return k.GetExpiresAt() != nil && !now.Before(k.GetExpiresAt().AsTime())
		})
		if len(next.GetApiKeys()) >= maxAPIKeys {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "%s has %d API keys and sessions, the most allowed; revoke one first", g.ref.Identity, maxAPIKeys)
		}
		k = proto.Clone(k).(*actorsv1.APIKeyRecord)
		k.CreatedAt = timestamppb.New(now)
		next.ApiKeys = append(next.ApiKeys, k)
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	case *actorsv1.LinkAuthMethod:
		if !exists {
			return g.notFound()
		}
		return g.link(m.GetMethod())
	case *actorsv1.RevokeAPIKey:
		if !exists {
			return g.notFound()
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		next.ApiKeys = nil
		for _, k := range g.rec.GetApiKeys() {
			if k.GetId() != m.GetKeyId() {
				next.ApiKeys = append(next.ApiKeys, k)
			}
		}
		if len(next.ApiKeys) == len(g.rec.GetApiKeys()) {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "%s has no API key %s", g.ref.Identity, m.GetKeyId())
		}
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	case *actorsv1.IssueUserToken:
		if !exists {
			return g.notFound()
		}
		tok := m.GetToken()
		if (tok.GetPurpose() != TokenVerify && tok.GetPurpose() != TokenReset) || len(tok.GetHash()) != 64 || tok.GetExpiresAt() == nil {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "a token needs a purpose, a SHA-256 and an expiry")
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		next.Tokens = slices.DeleteFunc(next.Tokens, func(t *actorsv1.UserToken) bool { return t.GetPurpose() == tok.GetPurpose() })
		next.Tokens = append(next.Tokens, proto.Clone(tok).(*actorsv1.UserToken))
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	case *actorsv1.ConsumeUserToken:
		// NB: an unknown user and an unknown, used or expired token answer
		// the same.
		now := g.rt.cfg.Now()
		i := slices.IndexFunc(g.rec.GetTokens(), func(t *actorsv1.UserToken) bool {
			return t.GetPurpose() == m.GetPurpose() && now.Before(t.GetExpiresAt().AsTime()) &&
				subtle.ConstantTimeCompare([]byte(t.GetHash()), []byte(m.GetHash())) == 1
		})
		if !exists || i < 0 {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "this link is not valid: it was used already, has expired, or is mistyped")
		}
		if m.GetPurpose() == TokenReset && m.GetNewPasswordHash() == "" {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "a reset needs the new password's hash")
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		next.Tokens = slices.Delete(next.Tokens, i, i+1)
		next.EmailVerified = true
		if m.GetPurpose() == TokenReset {
			next.PasswordHash = m.GetNewPasswordHash()
			next.ApiKeys = slices.DeleteFunc(next.ApiKeys, isBrowser)
		}
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	case *actorsv1.RevokeBrowserSessions:
		if !exists {
			return g.notFound()
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		next.ApiKeys = slices.DeleteFunc(next.ApiKeys, isBrowser)
		ended := len(g.rec.GetApiKeys()) - len(next.ApiKeys)
		if ended > 0 {
			if err := g.save(next); err != nil {
				return err
			}
		}
		return &actorsv1.RevokeBrowserSessionsReply{Ended: uint32(ended), User: next}
	case *actorsv1.MarkEmailVerified:
		if !exists {
			return g.notFound()
		}
		if g.rec.GetEmailVerified() {
			return &actorsv1.UserReply{User: g.rec}
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		next.EmailVerified, next.PasswordHash, next.ApiKeys, next.Tokens = true, "", nil, nil
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	case *actorsv1.SetUserRole:
		if !exists {
			return g.notFound()
		}
		if m.GetRole() != actorsv1.UserRole_USER_ROLE_USER && m.GetRole() != actorsv1.UserRole_USER_ROLE_ADMIN {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "unknown role %v", m.GetRole())
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		next.Role = m.GetRole()
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	case *actorsv1.SetUserDisabled:
		if !exists {
			return g.notFound()
		}
		if g.rec.GetDisabled() == m.GetDisabled() {
			return &actorsv1.UserReply{User: g.rec}
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		next.Disabled = m.GetDisabled()
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	case *actorsv1.SetModelKey:
		if !exists {
			return g.notFound()
		}
		k := m.GetKey()
		if k.GetId() == "" || k.GetBaseUrl() == "" || k.GetModel() == "" || k.GetNodeKeyId() == "" || len(k.GetSealed()) == 0 {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "a model key needs an id, a base URL, a model and a sealed key")
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		add := proto.Clone(k).(*actorsv1.ModelKeyRecord)
		add.CreatedAt = timestamppb.New(g.rt.cfg.Now())
		if i := slices.IndexFunc(next.ModelKeys, func(x *actorsv1.ModelKeyRecord) bool { return x.GetId() == k.GetId() }); i >= 0 {
			next.ModelKeys[i] = add
		} else {
			if len(next.ModelKeys) >= MaxModelKeys {
				return grainErr(actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "%s has %d model keys, the most allowed; remove one first", g.ref.Identity, MaxModelKeys)
			}
			next.ModelKeys = append(next.ModelKeys, add)
		}
		if m.GetMakeDefault() || DefaultModelKey(next) == nil {
			next.DefaultModelKey = add.GetId()
		}
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	case *actorsv1.ClearModelKey:
		if !exists {
			return g.notFound()
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		if m.GetId() == "" {
			next.ModelKeys, next.DefaultModelKey = nil, ""
		} else {
			next.ModelKeys = slices.DeleteFunc(next.ModelKeys, func(x *actorsv1.ModelKeyRecord) bool { return x.GetId() == m.GetId() })
			if len(next.ModelKeys) == len(g.rec.GetModelKeys()) {
				return grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "%s has no model key %s", g.ref.Identity, m.GetId())
			}
			if DefaultModelKey(next) == nil {
				next.DefaultModelKey = ""
				if len(next.ModelKeys) > 0 {
					next.DefaultModelKey = next.ModelKeys[0].GetId()
				}
			}
		}
		if proto.Equal(next, g.rec) {
			return &actorsv1.UserReply{User: g.rec}
		}
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	case *actorsv1.SetDefaultModelKey:
		if !exists {
			return g.notFound()
		}
		if !slices.ContainsFunc(g.rec.GetModelKeys(), func(x *actorsv1.ModelKeyRecord) bool { return x.GetId() == m.GetId() }) {
			return grainErr(actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND, "%s has no model key %s", g.ref.Identity, m.GetId())
		}
		if g.rec.GetDefaultModelKey() == m.GetId() {
			return &actorsv1.UserReply{User: g.rec}
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		next.DefaultModelKey = m.GetId()
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	case *actorsv1.ResealModelKeys:
		if !exists {
			return g.notFound()
		}
		return g.reseal()
	case *actorsv1.GetModelSpend:
		if !exists {
			return g.notFound()
		}
		return g.spendReply(m.GetDay())
	case *actorsv1.ChargeModelSpend:
		if !exists {
			return g.notFound()
		}
		sp := g.rec.GetModelSpend()
		if m.GetMicroUsd() == 0 || m.GetDay() < sp.GetDay() {
			// Nothing to add, or a late charge of a day already over.
			return g.spendReply(m.GetDay())
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		if m.GetDay() > sp.GetDay() {
			next.ModelSpend = &actorsv1.ModelSpend{Day: m.GetDay()}
		}
		next.ModelSpend.MicroUsd += m.GetMicroUsd()
		if err := g.save(next); err != nil {
			return err
		}
		return g.spendReply(m.GetDay())
	case *actorsv1.SetDisplayName:
		if !exists {
			return g.notFound()
		}
		next := proto.Clone(g.rec).(*actorsv1.UserRecord)
		next.DisplayName = m.GetDisplayName()
		if err := g.save(next); err != nil {
			return err
		}
		return &actorsv1.UserReply{User: next}
	}
	return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "user grain does not handle %T", msg)
}

// spendReply is the user's spend on day (0 when the stored spend is of
// another day).
func (g *userGrain) spendReply(day int64) *actorsv1.ModelSpendReply {
	r := &actorsv1.ModelSpendReply{Day: day, OwnKey: DefaultModelKey(g.rec) != nil}
	if sp := g.rec.GetModelSpend(); sp.GetDay() == day {
		r.MicroUsd = sp.GetMicroUsd()
	}
	return r
}

// MaxModelKeys bounds the model keys of one user.
const MaxModelKeys = 20

// DefaultModelKey is the key u's sessions run on, nil when u has none.
func DefaultModelKey(u *actorsv1.UserRecord) *actorsv1.ModelKeyRecord {
	for _, k := range u.GetModelKeys() {
		if k.GetId() == u.GetDefaultModelKey() {
			return k
		}
	}
	return nil
}

// legacyModelKeyID names the one model key of a record made before users
// could keep several.
const legacyModelKeyID = "0000000000000000"

// migrateModelKey moves a record's one legacy model key into model_keys
// (in memory; the next save stores it).
func migrateModelKey(rec *actorsv1.UserRecord) {
	k := rec.GetModelKey()
	if k == nil {
		return
	}
	rec.ModelKey = nil
	if k.GetId() == "" {
		k.Id = legacyModelKeyID
	}
	if !slices.ContainsFunc(rec.GetModelKeys(), func(x *actorsv1.ModelKeyRecord) bool { return x.GetId() == k.GetId() }) {
		rec.ModelKeys = append([]*actorsv1.ModelKeyRecord{k}, rec.GetModelKeys()...)
	}
	if DefaultModelKey(rec) == nil {
		rec.DefaultModelKey = k.GetId()
	}
}

// reseal seals every model key of the user that an older node key sealed
// again under the node's current key (after a rotation of --node-key-file),
// in one write. A key that does not open is left as it is (and counted as
// failed): the session that needs it reports why.
func (g *userGrain) reseal() *actorsv1.ResealModelKeysReply {
	reply := &actorsv1.ResealModelKeysReply{}
	ring := g.rt.cfg.NodeKeys
	if ring == nil || len(g.rec.GetModelKeys()) == 0 {
		return reply
	}
	next := proto.Clone(g.rec).(*actorsv1.UserRecord)
	ad := ModelKeyAD(g.rec.GetId())
	var from []string
	for _, k := range next.ModelKeys {
		if k.GetNodeKeyId() == ring.Current() {
			reply.Current++
			continue
		}
		plain, err := ring.Open(k.GetNodeKeyId(), k.GetSealed(), ad)
		if err != nil {
			reply.Failed++
			g.rt.log.Warn("model key not re-sealed", "user", g.ref.Identity, "key", k.GetId(), "err", err)
			continue
		}
		id, sealed, err := ring.Seal(plain, ad)
		if err != nil {
			reply.Failed++
			g.rt.log.Warn("model key not re-sealed", "user", g.ref.Identity, "key", k.GetId(), "err", err)
			continue
		}
		from = append(from, k.GetNodeKeyId())
		k.NodeKeyId, k.Sealed = id, sealed
		reply.Resealed++
	}
	if reply.Resealed == 0 {
		return reply
	}
	if err := g.save(next); err != nil {
		g.rt.log.Warn("model keys not re-sealed", "user", g.ref.Identity, "err", err.GetMessage())
		reply.Failed += reply.Resealed
		reply.Resealed = 0
		return reply
	}
	g.rt.log.Info("model keys re-sealed under the current node key", "user", g.ref.Identity, "from", from, "to", ring.Current())
	return reply
}

// ModelKeyAD is the additional data a user's model key is sealed with: a
// sealed key copied to another user does not open.
func ModelKeyAD(userID string) []byte { return []byte("stich model key\x00" + userID) }

// maxAuthMethods bounds the outside identities linked to one user.
const maxAuthMethods = 20

// link applies [actorsv1.LinkAuthMethod]'s rules (see its doc): the
// provider vouched for m's e-mail, which is linked if the account's holder
// is the one who proved it.
//
// NB: the rules are checked here, in the one grain that owns the record,
// and not only at the edge: a password set or an e-mail changed between
// the edge's read and this write cannot slip through.
func (g *userGrain) link(m *actorsv1.AuthMethod) proto.Message {
	if m.GetProvider() == "" || m.GetSubject() == "" || !strings.Contains(m.GetEmail(), "@") {
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "a linked identity needs a provider, a subject and an e-mail")
	}
	linked := slices.ContainsFunc(g.rec.GetAuthMethods(), func(a *actorsv1.AuthMethod) bool {
		return a.GetProvider() == m.GetProvider() && a.GetSubject() == m.GetSubject()
	})
	sameEmail := strings.EqualFold(strings.TrimSpace(g.rec.GetEmail()), strings.TrimSpace(m.GetEmail()))
	switch {
	case linked:
		// A known identity signs in even if its e-mail changed at the provider.
		return &actorsv1.UserReply{User: g.rec}
	case g.rec.GetEmail() != "" && !sameEmail:
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "the account's e-mail is not the one %s vouched for", m.GetProvider())
	case sameEmail && !g.rec.GetEmailVerified() && g.rec.GetPasswordHash() != "":
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION,
			"an account with this e-mail exists, has a password and has not verified the e-mail: sign in with the password and verify the e-mail before signing in through %s", m.GetProvider())
	case len(g.rec.GetAuthMethods()) >= maxAuthMethods:
		return grainErr(actorsv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "%s has %d linked sign-in methods, the most allowed", g.ref.Identity, maxAuthMethods)
	}
	next := proto.Clone(g.rec).(*actorsv1.UserRecord)
	if next.Email == "" {
		next.Email = strings.TrimSpace(m.GetEmail())
	}
	next.EmailVerified = true
	add := proto.Clone(m).(*actorsv1.AuthMethod)
	add.LinkedAt = timestamppb.New(g.rt.cfg.Now())
	next.AuthMethods = append(next.AuthMethods, add)
	if err := g.save(next); err != nil {
		return err
	}
	return &actorsv1.UserReply{User: next}
}

// EnsureUser creates the user id from template unless it exists, and
// returns the stored record.
func EnsureUser(ctx context.Context, n *cluster.Node, id string, template *actorsv1.UserRecord) (*actorsv1.UserRecord, error) {
	r, err := Call[*actorsv1.UserReply](ctx, n, KindUser, id, &actorsv1.EnsureUser{Template: template})
	return r.GetUser(), err
}
