package actors

import (
	"context"
	"errors"
	"fmt"

	"github.com/stichdev/stich/auth"
	"github.com/stichdev/stich/cluster"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// CreateAccount makes the account of email from template (a new random
// user id, the directory entry, the user grain), or finds the account that
// holds the e-mail already: created says which. It is safe to retry and to
// race: the directory grain of the e-mail decides who holds it, and an
// entry whose user grain was never made (a crash between the two steps) is
// completed by the next attempt.
func CreateAccount(ctx context.Context, n *cluster.Node, email string, template *actorsv1.UserRecord) (*actorsv1.UserRecord, bool, error) {
	id, err := auth.NewUserID()
	if err != nil {
		return nil, false, err
	}
	d, err := Call[*actorsv1.DirectoryReply](ctx, n, KindDirectory, DirectoryID(email), &actorsv1.ClaimEmail{UserId: id})
	if err != nil {
		return nil, false, fmt.Errorf("actors: claim e-mail: %w", err)
	}
	tmpl := cloneUser(template)
	tmpl.Email = email
	if d.GetClaimed() {
		u, err := EnsureUser(ctx, n, id, tmpl)
		return u, err == nil, err
	}
	u, err := Call[*actorsv1.UserReply](ctx, n, KindUser, d.GetUserId(), &actorsv1.GetUser{})
	var ae *Error
	if errors.As(err, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		// The holder's grain was never made: finish that sign-up with this one.
		u, err := EnsureUser(ctx, n, d.GetUserId(), tmpl)
		return u, err == nil, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("actors: read account: %w", err)
	}
	return u.GetUser(), false, nil
}

// FindAccount returns the account holding email; an [*Error] with
// NOT_FOUND when there is none.
func FindAccount(ctx context.Context, n *cluster.Node, email string) (*actorsv1.UserRecord, error) {
	d, err := Call[*actorsv1.DirectoryReply](ctx, n, KindDirectory, DirectoryID(email), &actorsv1.LookupEmail{})
	if err != nil {
		return nil, err
	}
	u, err := Call[*actorsv1.UserReply](ctx, n, KindUser, d.GetUserId(), &actorsv1.GetUser{})
	return u.GetUser(), err
}

func cloneUser(u *actorsv1.UserRecord) *actorsv1.UserRecord {
	if u == nil {
		return &actorsv1.UserRecord{}
	}
	return &actorsv1.UserRecord{Email: u.GetEmail(), DisplayName: u.GetDisplayName(), Role: u.GetRole(), Plan: u.GetPlan(),
		PasswordHash: u.GetPasswordHash(), EmailVerified: u.GetEmailVerified()}
}

// IsNotFound reports whether err is a grain's NOT_FOUND.
func IsNotFound(err error) bool {
	var ae *Error
	return errors.As(err, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND
}
