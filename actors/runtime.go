package actors

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stichdev/stich/appbuild"
	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/nodekey"
	"github.com/stichdev/stich/pipeline"
	"github.com/stichdev/stich/preview"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	"github.com/stichdev/stich/ratelimit"
	"github.com/stichdev/stich/runcheck"
)

// Grain kinds.
const (
	KindSession   = "session"
	KindRateLimit = "ratelimit"
	KindSandbox   = "sandbox"
	KindApps      = "apps"
)

// Config configures the grain runtime of a node.
type Config struct {
	// Cluster configures the node.
	Cluster cluster.Config
	// Providers by name; the scaffold provider is always added.
	Providers map[string]codegen.Provider
	// DefaultProvider is used when a session names none. Default "scaffold".
	DefaultProvider string
	// PhaseBudget bounds the implementation phases of one generation; a
	// user's message resets what is left to at least 3. Default 10.
	PhaseBudget int
	// MaxFixRounds bounds review → fix rounds per phase. Default 2.
	MaxFixRounds int
	// Watchdog is how often a working session re-arms its alarm, so that
	// a restart resumes it. Default 30 s.
	Watchdog time.Duration
	// CompactTurns and CompactTokens bound the conversation the
	// conversation model sees (turns: the user's messages, applied and
	// queued, and the replies; tokens: estimated at 4 bytes each): past
	// either, before the next refinement is planned, all but the last
	// CompactKeep turns are replaced by a summary the provider writes.
	// Defaults 40 turns, 100,000 tokens, 10 turns kept.
	CompactTurns, CompactTokens, CompactKeep int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Builds installs, type-checks, fixes and previews apps after each
	// phase; nil disables that (sessions then complete without a preview,
	// and say why with BuildsDisabled).
	Builds *appbuild.Config
	// BuildsDisabled is the reason shown to users when Builds is nil.
	BuildsDisabled string
	// Previews names each app's preview origin
	// (http://SESSION.preview.localhost:8081/); the zero value announces
	// no preview URL.
	Previews preview.Origins
	// Runcheck loads every built preview in a browser and reports what
	// went wrong at runtime; nil (no browser on the node) records "not
	// checked: no browser" instead.
	Runcheck *runcheck.Checker
	// SandboxIdle frees a sandbox workspace unused this long. Default 15 min.
	SandboxIdle time.Duration
	// CompactLogAfter is how long a session stays idle before its log's
	// file chunks are compacted into its versions (actors/compact.go); it is
	// also compacted when it leaves memory, and at once near its log quota.
	// Default 2 min; negative: only when it leaves memory or nears its quota.
	CompactLogAfter time.Duration
	// Quota bounds each session's storage (see [pipeline.Quota]); the
	// zero value bounds nothing. stich serve sets it from its flags.
	Quota pipeline.Quota
	// NodeKeys seal users' own model keys at rest (actors/budget.go); nil
	// turns own model keys off.
	NodeKeys *nodekey.Ring
	// OwnKeyProvider makes the provider a session runs on when its owner
	// has a model key of their own; nil ignores own keys.
	OwnKeyProvider func(OwnModelKey) (codegen.Provider, error)
	// DailyModelBudgetUSD bounds what each user's sessions spend on the
	// platform's models per UTC day, in US dollars; 0 is unlimited. Users
	// with their own model key are exempt.
	DailyModelBudgetUSD float64
	// BudgetClock, if set, decides the UTC day of budgets instead of Now
	// (tests pin the day without moving alarms).
	BudgetClock func() time.Time
	// BuildLimit bounds the builds of each user's apps (phase checks,
	// checks after edits, preview rebuilds); a zero Limit disables it.
	BuildLimit ratelimit.Rule
}

// Runtime is a started node with stich's grain kinds.
type Runtime struct {
	cfg  Config
	Node *cluster.Node
	log  *slog.Logger
	hubs hubs
	own  ownProviders

	reseal resealState // the startup walk re-sealing model keys (reseal.go)

	// Background work of grains that must not block a mailbox (reports
	// to the apps index): tracked, cancelled and awaited by Shutdown.
	bgMu     sync.Mutex
	bgClosed bool
	bgWG     sync.WaitGroup
	bgCtx    context.Context
	// started is closed once Node is set: grains can run (alarms fire on
	// start) before cluster.Start returns, so background work waits for it.
	started  chan struct{}
	bgCancel context.CancelFunc

	audit *auditRecorder

	// versionBuilds counts the old versions' builds this node started
	// (sandbox_version.go): a build reused from the cache is not one.
	versionBuilds atomic.Uint64
}

// Start starts a node serving the session and ratelimit grains.
func Start(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Providers == nil {
		cfg.Providers = map[string]codegen.Provider{}
	}
	if _, ok := cfg.Providers["scaffold"]; !ok {
		cfg.Providers["scaffold"] = codegen.Scaffold{}
	}
	if cfg.DefaultProvider == "" {
		cfg.DefaultProvider = "scaffold"
	}
	if _, ok := cfg.Providers[cfg.DefaultProvider]; !ok {
		return nil, fmt.Errorf("actors: default provider %q is not configured", cfg.DefaultProvider)
	}
	if cfg.PhaseBudget <= 0 {
		cfg.PhaseBudget = 10
	}
	if cfg.MaxFixRounds <= 0 {
		cfg.MaxFixRounds = 2
	}
	if cfg.CompactTurns <= 0 {
		cfg.CompactTurns = 40
	}
	if cfg.CompactTokens <= 0 {
		cfg.CompactTokens = 100_000
	}
	if cfg.CompactKeep <= 0 {
		cfg.CompactKeep = 10
	}
	if cfg.Watchdog <= 0 {
		cfg.Watchdog = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SandboxIdle <= 0 {
		cfg.SandboxIdle = 15 * time.Minute
	}
	if cfg.Builds == nil && cfg.BuildsDisabled == "" {
		cfg.BuildsDisabled = "builds and previews are disabled on this node"
	}
	if cfg.Cluster.Logger == nil {
		cfg.Cluster.Logger = slog.Default()
	}
	rt := &Runtime{cfg: cfg, log: cfg.Cluster.Logger, started: make(chan struct{})}
	rt.bgCtx, rt.bgCancel = context.WithCancel(context.Background())
	cfg.Cluster.OnAlarm = rt.deliverAlarm
	// Session alarms are watchdogs of work in progress: after a restart,
	// wake those sessions at once so interrupted generations resume.
	cfg.Cluster.AlarmsFireOnStart = true
	kinds := []cluster.Kind{
		{Name: KindSession, New: func(ref *cluster.GrainRef) actor.Actor { return newSessionGrain(rt, ref) },
			// Only CreateSession makes a session: a lookup of an unknown id
			// writes nothing (cluster.ErrNoSuchGrain, NOT_FOUND in Call).
			Creates: func(msg any) bool {
				switch msg.(type) {
				case *actorsv1.CreateSession, *actorsv1.ForkSession:
					return true
				}
				return false
			},
			// Reads are confirmed with a majority of the session's replicas
			// first: an owner cut off from them answers Unavailable.
			Reads: isSessionRead},
		{Name: KindRateLimit, Ephemeral: true, New: func(ref *cluster.GrainRef) actor.Actor { return newRateLimitGrain(rt, ref) }},
		// A session's sandbox lives on its session's node: the app's files
		// (each check) and its preview stay on one node.
		{Name: KindSandbox, Ephemeral: true, PlaceWith: KindSession, New: func(ref *cluster.GrainRef) actor.Actor { return newSandboxGrain(rt, ref) }},
		{Name: KindApps, New: func(ref *cluster.GrainRef) actor.Actor { return newAppsGrain(rt, ref) }},
		// The gallery is an apps index of public apps (actors/social.go).
		{Name: KindGallery, New: func(ref *cluster.GrainRef) actor.Actor { return newAppsGrain(rt, ref) }},
		// Only EnsureUser makes a user, only ClaimEmail a directory entry,
		// only CreateInvite an invite: a key, e-mail or invite naming
		// nothing answers NOT_FOUND without activating (or storing) a grain.
		{Name: KindUser, New: func(ref *cluster.GrainRef) actor.Actor { return newUserGrain(rt, ref) },
			Creates: func(msg any) bool { _, ok := msg.(*actorsv1.EnsureUser); return ok }},
		{Name: KindDirectory, New: func(ref *cluster.GrainRef) actor.Actor { return newDirectoryGrain(rt, ref) },
			Creates: func(msg any) bool { _, ok := msg.(*actorsv1.ClaimEmail); return ok }},
		{Name: KindInvite, New: func(ref *cluster.GrainRef) actor.Actor { return newInviteGrain(rt, ref) },
			Creates: func(msg any) bool { _, ok := msg.(*actorsv1.CreateInvite); return ok }},
		// Only AppendAudit makes an audit log, only UpsertUserEntry the
		// users index.
		{Name: KindAudit, New: func(ref *cluster.GrainRef) actor.Actor { return newAuditGrain(rt, ref) },
			Creates: func(msg any) bool { _, ok := msg.(*actorsv1.AppendAudit); return ok }},
		{Name: KindUsers, New: func(ref *cluster.GrainRef) actor.Actor { return newUsersGrain(rt, ref) },
			Creates: func(msg any) bool { _, ok := msg.(*actorsv1.UpsertUserEntry); return ok }},
	}
	n, err := cluster.Start(ctx, cfg.Cluster, kinds)
	if err != nil {
		rt.bgCancel()
		return nil, err
	}
	rt.Node = n
	close(rt.started)
	rt.audit = startAuditRecorder(rt)
	rt.startResealWalk()
	return rt, nil
}

// Shutdown stops the node; see [cluster.Node.Shutdown]. Background work
// still running (reports to apps indexes) is cancelled and awaited first;
// none starts afterwards. Idempotent.
func (rt *Runtime) Shutdown(ctx context.Context) error {
	// Queued security events are written first, while the node still
	// serves grains (bounded: see auditShutdown).
	actx, cancel := context.WithTimeout(ctx, auditShutdown)
	rt.audit.close(actx)
	cancel()
	rt.bgMu.Lock()
	rt.bgClosed = true
	rt.bgMu.Unlock()
	rt.bgCancel()
	rt.bgWG.Wait()
	return rt.Node.Shutdown(ctx)
}

// goBackground runs f on a goroutine that Shutdown cancels (through ctx)
// and waits for. After Shutdown has begun, f is not run.
func (rt *Runtime) goBackground(f func(ctx context.Context)) {
	rt.bgMu.Lock()
	defer rt.bgMu.Unlock()
	if rt.bgClosed {
		return
	}
	rt.bgWG.Add(1)
	go func() {
		defer rt.bgWG.Done()
		select {
		case <-rt.started:
		case <-rt.bgCtx.Done():
			return
		}
		f(rt.bgCtx)
	}()
}

// Provider returns the provider configured under name ("" for the default).
func (rt *Runtime) Provider(name string) (codegen.Provider, bool) {
	if name == "" {
		name = rt.cfg.DefaultProvider
	}
	p, ok := rt.cfg.Providers[name]
	return p, ok
}

// Providers returns the configured providers, sorted by name.
func (rt *Runtime) Providers() []codegen.Provider {
	out := make([]codegen.Provider, 0, len(rt.cfg.Providers))
	for _, p := range rt.cfg.Providers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// DefaultProvider returns the provider used when a session names none.
func (rt *Runtime) DefaultProvider() codegen.Provider {
	return rt.cfg.Providers[rt.cfg.DefaultProvider]
}

func (rt *Runtime) deliverAlarm(ctx context.Context, n *cluster.Node, a cluster.Alarm) error {
	_, err := Call[*actorsv1.AlarmAck](ctx, n, a.Kind, a.Identity, &actorsv1.AlarmFired{Due: timestamppb.New(a.Due)})
	var ae *Error
	if errors.As(err, &ae) && ae.Code == actorsv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		return nil // the grain is gone; drop its alarm
	}
	return err
}

// NewSessionID returns a fresh random session id: "s-", 20 base32
// characters (100 bits) and, when region is not empty, ".<region>" — the
// placement hint that keeps the session in that region. The id is chosen
// so that its owner is a live member: a new session never waits for a
// failed node.
func (rt *Runtime) NewSessionID(region string) string {
	var id string
	for try := 0; try < 64; try++ {
		id = randomSessionID(region)
		if rt.Node.OwnerIsLive(KindSession, id) {
			break
		}
	}
	return id
}

func randomSessionID(region string) string {
	var b [13]byte
	_, _ = rand.Read(b[:])
	id := "s-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:20]
	if region != "" {
		id += "." + region
	}
	return id
}

// BuildsDisabled says why this node does not build and preview apps
// ("" when it does).
func (rt *Runtime) BuildsDisabled() string {
	if rt.cfg.Builds != nil {
		return ""
	}
	if rt.cfg.BuildsDisabled == "" {
		return "builds and previews are off on this node"
	}
	return rt.cfg.BuildsDisabled
}

// Region returns the serving node's region.
func (rt *Runtime) Region() string { return rt.Node.Region() }

// isSessionRead reports whether msg only reads a session (see
// cluster.Kind.Reads).
func isSessionRead(msg any) bool {
	switch msg.(type) {
	case *actorsv1.GetSnapshot, *actorsv1.ReadLog, *actorsv1.Subscribe, *actorsv1.ListFiles,
		*actorsv1.ReadFile, *actorsv1.ListVersions, *actorsv1.DiffVersions:
		return true
	}
	return false
}
