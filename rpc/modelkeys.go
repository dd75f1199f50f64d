package rpc

import (
	"context"
	"errors"
	"net/url"
	"strings"

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
// characters. The caller's sessions then run on it (actors/budget.go).

var errNoNodeKey = connect.NewError(connect.CodeFailedPrecondition,
	errors.New("this node keeps no model keys: it has no node key to seal them with (the operator starts it with --node-key-file or STICH_NODE_KEY)"))

// keyHint is what users see of a key.
func keyHint(last4 string) string { return "…" + last4 }

func modelKeyView(k *actorsv1.ModelKeyRecord) *stichv1.ModelKey {
	return &stichv1.ModelKey{BaseUrl: k.GetBaseUrl(), Model: k.GetModel(), KeyHint: keyHint(k.GetLast4()), CreatedAt: k.GetCreatedAt()}
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
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	p := auth.FromContext(ctx)
	id, sealed, err := a.s.rt.SealModelKey(p.UserID, key)
	if err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	rec := &actorsv1.ModelKeyRecord{BaseUrl: base, Model: model, NodeKeyId: id, Sealed: sealed, Last4: key[len(key)-4:]}
	r, err := actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, p.UserID, &actorsv1.SetModelKey{Key: rec})
	if err != nil {
		return nil, a.fail(ctx, proc, err)
	}
	a.s.Audit(ctx, AuditEvent{Kind: audit.ModelKeySet, UserID: p.UserID, Detail: "model endpoint " + base})
	return connect.NewResponse(&stichv1.SetModelKeyResponse{Key: modelKeyView(r.GetUser().GetModelKey())}), nil
}

func (a *accountService) ClearModelKey(ctx context.Context, req *connect.Request[stichv1.ClearModelKeyRequest]) (*connect.Response[stichv1.ClearModelKeyResponse], error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	p := auth.FromContext(ctx)
	if _, err := actors.Call[*actorsv1.UserReply](ctx, a.s.rt.Node, actors.KindUser, p.UserID, &actorsv1.ClearModelKey{}); err != nil {
		return nil, a.fail(ctx, "ClearModelKey", err)
	}
	a.s.Audit(ctx, AuditEvent{Kind: audit.ModelKeyCleared, UserID: p.UserID})
	return connect.NewResponse(&stichv1.ClearModelKeyResponse{}), nil
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
		DailyUsd: a.s.rt.DailyModelBudgetUSD(), ResetsAt: timestamppb.New(actors.NextReset(now)), Exempt: u.GetModelKey() != nil}}
	if sp := u.GetModelSpend(); sp.GetDay() == actors.Day(now) {
		res.Budget.SpentUsd = float64(sp.GetMicroUsd()) / 1e6
	}
	if k := u.GetModelKey(); k != nil {
		res.Keys = append(res.Keys, modelKeyView(k))
	}
	return connect.NewResponse(res), nil
}
