package codegen

import "context"

type sessionKey struct{}

type logKey struct{}

type usageKey struct{}

// ContextWithSession returns a context that tells providers which session
// their work is for (to aggregate token usage per session).
func ContextWithSession(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, sessionKey{}, id)
}

// SessionFrom returns the session id set by [ContextWithSession], or "".
func SessionFrom(ctx context.Context) string {
	s, _ := ctx.Value(sessionKey{}).(string)
	return s
}

// ContextWithLog returns a context whose provider work reports progress
// worth showing the user (retries, a switch to the fallback model) to log.
// log may be called from the provider's goroutine and must not block.
func ContextWithLog(ctx context.Context, log func(text string)) context.Context {
	return context.WithValue(ctx, logKey{}, log)
}

// LogFrom returns the function set by [ContextWithLog], or nil.
func LogFrom(ctx context.Context) func(text string) {
	f, _ := ctx.Value(logKey{}).(func(string))
	return f
}

// ContextWithUsage returns a context whose provider work reports the
// usage of each model request to record, as it ends: the action (e.g.
// "blueprint") and the "provider/model" that served it. record may be
// called from the provider's goroutine and must not block.
func ContextWithUsage(ctx context.Context, record func(action, model string, u Usage)) context.Context {
	return context.WithValue(ctx, usageKey{}, record)
}

// UsageFrom returns the function set by [ContextWithUsage], or nil.
func UsageFrom(ctx context.Context) func(action, model string, u Usage) {
	f, _ := ctx.Value(usageKey{}).(func(string, string, Usage))
	return f
}

// Usage is the token usage and cost of a session's model calls.
type Usage struct {
	PromptTokens, CompletionTokens uint64
	CostUSD                        float64
	Requests                       uint64
	// Estimated is true when some calls' usage was estimated from text
	// length because the endpoint reported none.
	Estimated bool
}

// UsageReporter is implemented by providers that call models: it returns
// the usage aggregated for a session so far.
type UsageReporter interface {
	SessionUsage(sessionID string) Usage
}
