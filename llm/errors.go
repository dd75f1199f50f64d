package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Errors of a model call, wrapped in an [*Error] (use errors.Is).
var (
	// ErrAuth: the provider rejected the key (401/403), or none is set.
	ErrAuth = errors.New("llm: authentication failed")
	// ErrModelNotFound: the provider does not know the model (404).
	ErrModelNotFound = errors.New("llm: model not found")
	// ErrBadRequest: the provider refused the request (400, 413, 422),
	// e.g. a prompt longer than the model's context.
	ErrBadRequest = errors.New("llm: request refused")
	// ErrRateLimited: 429 after every retry.
	ErrRateLimited = errors.New("llm: rate limited")
	// ErrUnavailable: 5xx, broken connections or malformed streams after
	// every retry.
	ErrUnavailable = errors.New("llm: provider unavailable")
	// ErrTimeout: no first token, a stalled stream or a too long answer
	// within the configured timeouts, after every retry.
	ErrTimeout = errors.New("llm: timed out")
	// ErrTruncated: the answer still hit the token limit after
	// Config.MaxContinuations continuations. The Result holds the text.
	ErrTruncated = errors.New("llm: answer cut off by the token limit")
	// ErrAnswerTooLarge: the answer exceeded Config.MaxAnswerBytes.
	ErrAnswerTooLarge = errors.New("llm: answer too large")
)

// Error is a failed model call, with a message a user can act on. It never
// contains an API key.
type Error struct {
	// Kind is one of the sentinel errors above, or a context error.
	Kind     error
	Action   Action
	Provider string
	Model    string
	// Status is the last HTTP status, 0 if none.
	Status int
	// Attempts counts the requests made for the call.
	Attempts int
	// Detail is the provider's message, scrubbed of keys, or advice.
	Detail string
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Provider != "" || e.Model != "" {
		fmt.Fprintf(&b, " (%s/%s", e.Provider, e.Model)
		if e.Status != 0 {
			fmt.Fprintf(&b, ", HTTP %d", e.Status)
		}
		if e.Action != "" {
			fmt.Fprintf(&b, ", action %s", e.Action)
		}
		if e.Attempts > 1 {
			fmt.Fprintf(&b, ", %d attempts", e.Attempts)
		}
		b.WriteByte(')')
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

// failure is one attempt's classified error.
type failure struct {
	kind       error // sentinel, or a context error
	status     int
	retryAfter time.Duration // from the Retry-After header, 0 if none
	detail     string
	retryable  bool
	fallback   bool // worth trying the fallback model
}

// respInfo carries what the HTTP layer saw of a failed response; go-openai
// does not expose headers with its errors.
type respInfo struct {
	status     int
	retryAfter string
}

type respInfoKey struct{}

// classify turns an attempt's error into a failure. cause is the attempt
// context's cancellation cause, if any.
func classify(err error, info *respInfo, cause error) failure {
	var f failure
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		f.status, f.detail = apiErr.HTTPStatusCode, apiErr.Message
	case errors.As(err, &reqErr):
		f.status = reqErr.HTTPStatusCode
		f.detail = strings.TrimSpace(string(reqErr.Body))
		if len(f.detail) > 300 {
			f.detail = f.detail[:300] + "…"
		}
	}
	if f.status == 0 && info != nil {
		f.status = info.status
	}
	if info != nil && info.retryAfter != "" {
		f.retryAfter = parseRetryAfter(info.retryAfter, time.Now())
	}
	switch {
	case errors.Is(cause, errIdle), errors.Is(cause, errFirstToken), errors.Is(cause, errRequestTimeout):
		f.kind, f.retryable, f.fallback, f.detail = ErrTimeout, true, true, cause.Error()
	case f.status == http.StatusUnauthorized || f.status == http.StatusForbidden:
		f.kind = ErrAuth
	case f.status == http.StatusNotFound:
		f.kind, f.fallback = ErrModelNotFound, true
	case f.status == http.StatusTooManyRequests:
		f.kind, f.retryable, f.fallback = ErrRateLimited, true, true
	case f.status == http.StatusRequestTimeout || f.status >= 500:
		f.kind, f.retryable, f.fallback = ErrUnavailable, true, true
	case f.status >= 400:
		f.kind, f.fallback = ErrBadRequest, true
	case errors.Is(err, errStreamBroken), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, openai.ErrTooManyEmptyStreamMessages):
		f.kind, f.retryable, f.fallback = ErrUnavailable, true, true
		if f.detail == "" {
			f.detail = err.Error()
		}
	case apiErr != nil:
		// An error object inside the stream ("data: {"error": ...}").
		f.kind, f.retryable, f.fallback = ErrUnavailable, true, true
	case errors.As(err, new(*json.SyntaxError)), errors.As(err, new(*json.UnmarshalTypeError)):
		f.kind, f.retryable, f.fallback = ErrUnavailable, true, true
		f.detail = "malformed stream: " + err.Error()
	default:
		var ne net.Error
		var oe *net.OpError
		if errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, io.EOF) || errors.Is(err, context.DeadlineExceeded) {
			f.kind, f.retryable, f.fallback = ErrUnavailable, true, true
		} else {
			f.kind, f.fallback = ErrBadRequest, true
		}
		if f.detail == "" {
			f.detail = err.Error()
		}
	}
	return f
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

var (
	errStreamBroken   = errors.New("the stream ended without a finish reason")
	errIdle           = errors.New("no data from the provider within the idle timeout")
	errFirstToken     = errors.New("no first token within the first-token timeout")
	errRequestTimeout = errors.New("the request took longer than the request timeout")
)

// keyLike matches things that look like API keys in provider messages.
var keyLike = regexp.MustCompile(`(?i)(sk|pk|rk|key|api[_-]?key|sess)[-_][A-Za-z0-9_\-*.]{6,}|Bearer\s+\S+|AIza[0-9A-Za-z_\-]{10,}`)

// scrub removes the key, and anything that looks like a key, from a
// provider's message.
func scrub(msg, key string) string {
	if key != "" {
		msg = strings.ReplaceAll(msg, key, redacted)
		if len(key) >= 12 {
			// Providers echo keys partially ("sk-abc...wxyz"): drop any
			// 8-byte run of the key.
			for i := 0; i+8 <= len(key); i += 4 {
				msg = strings.ReplaceAll(msg, key[i:i+8], redacted)
			}
		}
	}
	return keyLike.ReplaceAllString(msg, redacted)
}
