package llm

import (
	"sort"
	"strings"
	"sync"

	openai "github.com/sashabaranov/go-openai"
)

// Usage counts the tokens of one or more requests.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// CachedTokens are prompt tokens the provider served from its cache.
	CachedTokens int `json:"cached_tokens,omitempty"`
	// ReasoningTokens are completion tokens spent on hidden reasoning.
	ReasoningTokens int `json:"reasoning_tokens,omitempty"`
	// Estimated is set when some of the counts were estimated because the
	// server sent no usage.
	Estimated bool `json:"estimated,omitempty"`
	// Requests counts the HTTP requests.
	Requests int `json:"requests"`
	// CostUSD is the price of the tokens.
	CostUSD float64 `json:"cost_usd"`
}

// Add returns u + v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		PromptTokens:     u.PromptTokens + v.PromptTokens,
		CompletionTokens: u.CompletionTokens + v.CompletionTokens,
		CachedTokens:     u.CachedTokens + v.CachedTokens,
		ReasoningTokens:  u.ReasoningTokens + v.ReasoningTokens,
		Estimated:        u.Estimated || v.Estimated,
		Requests:         u.Requests + v.Requests,
		CostUSD:          u.CostUSD + v.CostUSD,
	}
}

// charsPerToken is the estimate used when a server reports no usage.
const charsPerToken = 4

// EstimateTokens estimates the tokens of s (about 4 characters per token).
func EstimateTokens(s string) int { return (len(s) + charsPerToken - 1) / charsPerToken }

func estimateMessages(msgs []openai.ChatCompletionMessage) int {
	n := 0
	for _, m := range msgs {
		n += EstimateTokens(m.Content) + 4 // role and framing
	}
	return n
}

// fromAPI converts go-openai's usage.
func fromAPI(u *openai.Usage) Usage {
	out := Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, Requests: 1}
	if d := u.PromptTokensDetails; d != nil {
		out.CachedTokens = d.CachedTokens
	}
	if d := u.CompletionTokensDetails; d != nil {
		out.ReasoningTokens = d.ReasoningTokens
	}
	return out
}

// PriceOf returns the price of model: an exact entry, else the longest
// entry that is a prefix of model ("gpt-4.1-2025-04-14" costs what
// "gpt-4.1" costs; a provider prefix such as "openai/" is ignored).
func PriceOf(prices map[string]Price, model string) (Price, bool) {
	if p, ok := prices[model]; ok {
		return p, true
	}
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		if p, ok := PriceOf(prices, model[i+1:]); ok {
			return p, true
		}
	}
	best, found := "", false
	for k := range prices {
		if strings.HasPrefix(model, k) && len(k) > len(best) {
			best, found = k, true
		}
	}
	return prices[best], found
}

// cost prices u for model.
func cost(prices map[string]Price, model string, u Usage) float64 {
	p, _ := PriceOf(prices, model)
	return (float64(u.PromptTokens)*p.Input + float64(u.CompletionTokens)*p.Output) / 1e6
}

// UsageKey identifies one row of an [Aggregator].
type UsageKey struct {
	Session string `json:"session"`
	Action  Action `json:"action"`
	// Model is "provider/model".
	Model string `json:"model"`
}

// UsageRow is one aggregated row.
type UsageRow struct {
	UsageKey
	Usage
}

// Aggregator sums usage per session, action and model. It is safe for
// concurrent use. Rows of ended sessions are dropped with
// [Aggregator.Forget].
type Aggregator struct {
	mu   sync.Mutex
	rows map[UsageKey]Usage
}

// NewAggregator returns an empty aggregator.
func NewAggregator() *Aggregator { return &Aggregator{rows: map[UsageKey]Usage{}} }

// Add records u under k.
func (a *Aggregator) Add(k UsageKey, u Usage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rows[k] = a.rows[k].Add(u)
}

// Rows returns every row, sorted by session, action and model.
func (a *Aggregator) Rows() []UsageRow {
	a.mu.Lock()
	out := make([]UsageRow, 0, len(a.rows))
	for k, u := range a.rows {
		out = append(out, UsageRow{k, u})
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i].UsageKey, out[j].UsageKey
		if x.Session != y.Session {
			return x.Session < y.Session
		}
		if x.Action != y.Action {
			return x.Action < y.Action
		}
		return x.Model < y.Model
	})
	return out
}

// Session returns the total of one session.
func (a *Aggregator) Session(session string) Usage {
	a.mu.Lock()
	defer a.mu.Unlock()
	var t Usage
	for k, u := range a.rows {
		if k.Session == session {
			t = t.Add(u)
		}
	}
	return t
}

// Total returns the total of every row.
func (a *Aggregator) Total() Usage {
	a.mu.Lock()
	defer a.mu.Unlock()
	var t Usage
	for _, u := range a.rows {
		t = t.Add(u)
	}
	return t
}

// Forget drops a session's rows.
func (a *Aggregator) Forget(session string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k := range a.rows {
		if k.Session == session {
			delete(a.rows, k)
		}
	}
}
