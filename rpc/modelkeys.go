package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/actors"
	"github.com/stichdev/stich/audit"
	"github.com/stichdev/stich/auth"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// Users' own model keys (AccountService): the key is sealed here, at the
// edge, under the node's current key (package nodekey) and stored sealed
// in the user grain; no answer ever holds more of it than its last 4
// characters. A user keeps up to [actors.MaxModelKeys] keys (per provider
// or endpoint, each with a label); the caller's sessions run on the
// default one (actors/budget.go).

var errNoNodeKey = connect.NewError(connect.CodeFailedPrecondition,
	errors.New("this node keeps no model keys: it has no node key to seal them with (the operator starts it with --node-key-file or STICH_NODE_KEY)"))

// keyHint is what users see of a key.
func keyHint(last4 string) string { return "…" + last4 }

func modelKeyView(u *actorsv1.UserRecord, k *actorsv1.ModelKeyRecord) *stichv1.ModelKey {
	return &stichv1.ModelKey{Id: k.GetId(), Label: k.GetLabel(), IsDefault: k.GetId() != "" && k.GetId() == u.GetDefaultModelKey(),
		BaseUrl: k.GetBaseUrl(), Model: k.GetModel(), KeyHint: keyHint(k.GetLast4()), CreatedAt: k.GetCreatedAt()}
}

// newModelKeyID is a fresh id for a model key: 16 hex digits.
func newModelKeyID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("rpc: model key id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// validModelKeyID reports whether id has the form of a model key id (16
// hex digits; records of before several keys carry 16 zeros).
func validModelKeyID(id string) bool {
	if len(id) != 16 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func (a *accountService) SetModelKey(ctx context.Context, req *connect.Request[stichv1.SetModelKeyRequest]) (*connect.Response[stichv1.SetModelKeyResponse], error) {
	const proc = "SetModelKey"
	if !a.s.rt.NodeKeysConfigured() {
		return nil, errNoNodeKey
	}
	base := strings.TrimRight(strings.TrimSpace(req.Msg.GetBaseUrl()), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the base URL must be an http(s) URL with a host and no credentials, query or fragment, such as https://api.openai.com/v1"))
	}
	key := strings.TrimSpace(req.Msg.GetApiKey())
	if len(key) < 8 || strings.ContainsAny(key, " \t\r\n") {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the API key must have at least 8 characters and no spaces"))
	}
	model := strings.TrimSpace(req.Msg.GetModel())
	if model == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("name the model, such as gpt-4.1-mini"))
	}
	label := strings.TrimSpace(req.Msg.GetLabel())
	if len(label) > 100 || strings.ContainsFunc(label, unicode.IsControl) {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the label must be at most 100 characters, with no control characters"))
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	p := auth.FromContext(ctx)
	id, sealed, err := a.s.rt.SealModelKey(p.UserID, key)
	if err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	keyID, err := newModelKeyID()
	if err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	rec := &actorsv1.ModelKeyRecord{Id: keyID, Label: label, BaseUrl: base, Model: model, NodeKeyId: id, Sealed: sealed, Last4: key[len(key)-4:]}
	r, err := actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, p.UserID, &actorsv1.SetModelKey{Key: rec, MakeDefault: req.Msg.GetMakeDefault()})
	if err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	a.s.Audit(ctx, AuditEvent{Kind: audit.ModelKeySet, UserID: p.UserID, Detail: "model endpoint " + base + " (key " + keyID + ")"})
	rec2 := r.GetUser()
	for _, k := range rec2.GetModelKeys() {
		if k.GetId() == keyID {
			return connect.NewResponse(&stichv1.SetModelKeyResponse{Key: modelKeyView(rec2, k)}), nil
		}
	}
	return connect.NewResponse(&stichv1.SetModelKeyResponse{}), nil
}

func (a *accountService) ClearModelKey(ctx context.Context, req *connect.Request[stichv1.ClearModelKeyRequest]) (*connect.Response[stichv1.ClearModelKeyResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	id := req.Msg.GetId()
	if id != "" && !validModelKeyID(id) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("you have no such model key"))
	}
	p := auth.FromContext(ctx)
	if _, err := actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, p.UserID, &actorsv1.ClearModelKey{Id: id}); err != nil {
		return nil, a.fail(ctx, "ClearModelKey", err)
	}
	detail := "every model key"
	if id != "" {
		detail = "model key " + id
	}
	a.s.Audit(ctx, AuditEvent{Kind: audit.ModelKeyCleared, UserID: p.UserID, Detail: detail})
	return connect.NewResponse(&stichv1.ClearModelKeyResponse{}), nil
}

func (a *accountService) SetDefaultModelKey(ctx context.Context, req *connect.Request[stichv1.SetDefaultModelKeyRequest]) (*connect.Response[stichv1.SetDefaultModelKeyResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	id := req.Msg.GetId()
	if !validModelKeyID(id) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("you have no such model key"))
	}
	p := auth.FromContext(ctx)
	if _, err := actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, p.UserID, &actorsv1.SetDefaultModelKey{Id: id}); err != nil {
		return nil, a.fail(ctx, "SetDefaultModelKey", err)
	}
	a.s.Audit(ctx, AuditEvent{Kind: audit.ModelKeySet, UserID: p.UserID, Detail: "default model key " + id})
	return connect.NewResponse(&stichv1.SetDefaultModelKeyResponse{}), nil
}

func (a *accountService) ListModelKeys(ctx context.Context, req *connect.Request[stichv1.ListModelKeysRequest]) (*connect.Response[stichv1.ListModelKeysResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, u, err := a.me(ctx)
	if err != nil {
		return nil, a.fail(ctx, "ListModelKeys", err)
	}
	now := a.s.rt.BudgetNow()
	res := &stichv1.ListModelKeysResponse{Budget: &stichv1.ModelBudget{
		DailyUsd: a.s.rt.DailyModelBudgetUSD(), ResetsAt: timestamppb.New(actors.NextReset(now)), Exempt: actors.DefaultModelKey(u) != nil}}
	if sp := u.GetModelSpend(); sp.GetDay() == actors.Day(now) {
		res.Budget.SpentUsd = float64(sp.GetMicroUsd()) / 1e6
	}
	for _, k := range u.GetModelKeys() {
		res.Keys = append(res.Keys, modelKeyView(u, k))
	}
	return connect.NewResponse(res), nil
}
