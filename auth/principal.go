package auth

import "context"

// Role is what a principal may do beyond its own data.
type Role int

const (
	// RoleUser owns sessions and keys.
	RoleUser Role = iota + 1
	// RoleAdmin may also steer the cluster (status, forget, leave).
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleUser:
		return "user"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// Principal is an authenticated caller.
type Principal struct {
	// UserID is the user grain's identity.
	UserID string
	Role   Role
	// Via says how the caller proved it ("api-key", "browser").
	Via string
	// KeyID names the API key or browser session of the request ("" for
	// the node's own calls).
	KeyID string
}

// IsAdmin reports whether p may steer the cluster.
func (p *Principal) IsAdmin() bool { return p != nil && p.Role == RoleAdmin }

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller of ctx, or nil for an anonymous one.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
