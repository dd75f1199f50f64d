package llm

import (
	"context"
	"flag"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stichdev/stich/internal/testutil"
	"github.com/stichdev/stich/llm/llmtest"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files under testdata/")

// testKey is the key test clients send; it must never show up in errors
// or logs.
const testKey = "sk-llmtest-SECRET-9f8e7d6c5b4a3210"

// startScript starts the fake with a script from testdata/scripts.
func startScript(t testing.TB, name string) *llmtest.Server {
	t.Helper()
	s, err := llmtest.LoadScript(filepath.Join("testdata", "scripts", name))
	if err != nil {
		t.Fatal(err)
	}
	return startFake(t, s)
}

func startFake(t testing.TB, s *llmtest.Script) *llmtest.Server {
	t.Helper()
	srv := llmtest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// testConfig is one custom provider at url with model gpt-test for every
// action, fast timeouts and no continuation limit surprises.
func testConfig(url string) Config {
	c := Config{
		Providers: []ProviderConfig{{Name: "fake", Kind: KindCustom, BaseURL: url, APIKey: testKey, DefaultModel: "gpt-test"}},
		Prices:    map[string]Price{"gpt-test": {Input: 2, Output: 8}, "gpt-fallback": {Input: 1, Output: 1}},
		Retry:     RetryConfig{MaxAttempts: 5},
		Actions:   map[Action]ActionConfig{},
	}
	for _, a := range Actions {
		c.Actions[a] = ActionConfig{Model: "gpt-test", MaxTokens: 1000, Temperature: ptr(float32(0.2))}
	}
	return c.withDefaults()
}

// sleeper records the waits between attempts and returns at once.
type sleeper struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.delays = append(s.delays, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.delays...)
}

func newClient(t testing.TB, cfg Config, opts ...Option) (*Client, *sleeper) {
	t.Helper()
	sl := &sleeper{}
	c, err := NewClient(cfg, append([]Option{WithSleeper(sl.sleep)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, sl
}

// goroutineBaseline returns a check that the goroutine count comes back
// to what it is now (after closing idle connections).
func goroutineBaseline(t *testing.T, c *Client) func() {
	t.Helper()
	c.Close()
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		testutil.WaitFor(t, 5*time.Second, func() error {
			c.Close()
			if n := runtime.NumGoroutine(); n > before {
				return &leakErr{before, n}
			}
			return nil
		})
	}
}

type leakErr struct{ before, now int }

func (e *leakErr) Error() string {
	buf := make([]byte, 1<<16)
	n := runtime.Stack(buf, true)
	return "goroutines: " + itoa(e.before) + " before, " + itoa(e.now) + " now\n" + string(buf[:n])
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
