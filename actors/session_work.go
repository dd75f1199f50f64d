package actors

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/stichdev/stich/cluster"
	"github.com/stichdev/stich/codegen"
	"github.com/stichdev/stich/pipeline"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
)

// sink forwards a step's output to the grain's mailbox as
// [pipeline.Work] inputs.
type sink struct {
	system *actor.ActorSystem
	self   *actor.PID
	run    uint64
}

func (e *sink) Send(ctx context.Context, w pipeline.Work) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.Run = e.run
	e.system.Root.Send(e.self, w)
	return nil
}

// stopWork cancels the current step; with wait it also waits (bounded)
// for the worker goroutine to end, so none outlives the grain.
func (g *sessionGrain) stopWork(wait bool) {
	if !g.work.stop(wait, 10*time.Second) {
		g.log().Error("session worker did not stop within 10s")
	}
	g.work = nil
}

// stopIdleCheck cancels a running idle check; with wait it waits
// (bounded) for its goroutine.
func (g *sessionGrain) stopIdleCheck(wait bool) {
	if !g.idle.stop(wait, 10*time.Second) {
		g.log().Error("idle check did not stop within 10s")
	}
	g.idle = nil
}

func (g *sessionGrain) stopJobs(wait bool) {
	g.stopWork(wait)
	g.stopIdleCheck(wait)
}

// loadFiles reads the app's current files from storage.
func (g *sessionGrain) loadFiles() (map[string]string, error) {
	st := g.s.Session
	files := make(map[string]string, len(st.Files))
	for p := range st.Files {
		b, err := g.ref.Store.Get(prefixFile + p)
		if err != nil {
			return nil, fmt.Errorf("actors: read %q: %w", p, err)
		}
		files[p] = string(b)
	}
	return files, nil
}

// runStep runs a provider step on a new worker, replacing the running one.
func (g *sessionGrain) runStep(ctx actor.Context, spec *pipeline.StepSpec) {
	g.stopWork(false)
	st := g.s.Session
	prov, ok := g.rt.Provider(st.GetOptions().GetProvider())
	if !ok {
		g.fail(ctx, fmt.Errorf("provider %q is no longer configured on this node", st.GetOptions().GetProvider()))
		return
	}
	files, err := g.loadFiles()
	if err != nil {
		g.fail(ctx, err)
		return
	}
	spec.Blobs = make(map[string]string, len(spec.Needs))
	for _, sha := range spec.Needs {
		if spec.Blobs[sha], err = g.blob(sha); err != nil {
			g.fail(ctx, err)
			return
		}
	}
	run := spec.ID
	j := newJob()
	system, self := ctx.ActorSystem(), ctx.Self()
	wctx := codegen.ContextWithSession(j.ctx, st.Id)
	wctx = codegen.ContextWithLog(wctx, func(text string) {
		system.Root.Send(self, pipeline.Work{Run: run, Kind: pipeline.WorkLog, Data: text})
	})
	em := &sink{system: system, self: self, run: run}
	owner := cmp.Or(st.Owner, LocalOwner)
	var check pipeline.CheckFunc
	if g.rt.cfg.Builds != nil {
		node, id, rule := g.rt.Node, st.Id, g.rt.cfg.BuildLimit
		check = func(ctx context.Context, files map[string]string) *actorsv1.SandboxCheckReply {
			if err := takeBuild(ctx, node, rule, owner); err != nil {
				return &actorsv1.SandboxCheckReply{Error: err.Error()}
			}
			return checkInSandbox(ctx, node, id, files, self, run, false)
		}
	}
	rt := g.rt
	g.work = j
	j.start(func() {
		// The owner's own key, or the platform's provider within the
		// owner's budget (actors/budget.go).
		cctx, cancel := context.WithTimeout(wctx, 30*time.Second)
		prov, own, err := rt.stepProvider(cctx, owner, prov)
		cancel()
		if err != nil {
			if wctx.Err() == nil {
				system.Root.Send(self, pipeline.Result{Run: run, Err: err})
			}
			return
		}
		wctx := codegen.ContextWithUsage(wctx, func(action, model string, u codegen.Usage) {
			if !own {
				rt.chargeModelSpend(owner, u.CostUSD)
			}
			system.Root.Send(self, pipeline.Usage{Action: action, Model: model, Usage: u})
		})
		res := spec.Run(wctx, prov, files, em, check)
		if wctx.Err() != nil {
			return // stopped: the grain no longer waits for this result
		}
		system.Root.Send(self, res)
	})
}

// runIdleCheck checks the idle session's files in the sandbox (no fixer
// unless fix: the user asked for it), replacing a running idle check.
func (g *sessionGrain) runIdleCheck(ctx actor.Context, run uint64, fix bool) {
	g.stopIdleCheck(false)
	files, err := g.loadFiles()
	if err != nil {
		g.log().Error("idle check: read files", "err", err)
		g.s.Checking = false
		return
	}
	j := newJob()
	g.idle = j
	system, self, node, id := ctx.ActorSystem(), ctx.Self(), g.rt.Node, g.s.Session.Id
	owner, rule := cmp.Or(g.s.Session.Owner, LocalOwner), g.rt.cfg.BuildLimit
	j.start(func() {
		var reply *actorsv1.SandboxCheckReply
		if err := takeBuild(j.ctx, node, rule, owner); err != nil {
			reply = &actorsv1.SandboxCheckReply{Error: err.Error()}
		} else {
			reply = checkInSandbox(j.ctx, node, id, files, self, run, !fix)
		}
		if j.ctx.Err() == nil {
			system.Root.Send(self, pipeline.IdleCheckDone{Run: run, Reply: reply})
		}
	})
}

// checkTimeout bounds one sandbox check: a cold install, a type-check,
// fixer rounds and a bundle.
const checkTimeout = 15 * time.Minute

// checkInSandbox asks the session's sandbox grain to check files, with
// progress lines sent to the session (self) tagged with run. It never
// fails: a sandbox that cannot be reached becomes the reply's error, so
// the session goes on without a preview. When ctx ends (the session was
// stopped) the check is cancelled too.
func checkInSandbox(ctx context.Context, n *cluster.Node, id string, files map[string]string, self *actor.PID, run uint64, noFix bool) *actorsv1.SandboxCheckReply {
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	reply, err := Call[*actorsv1.SandboxCheckReply](cctx, n, KindSandbox, id, &actorsv1.SandboxCheck{
		Files: files, LogAddress: self.GetAddress(), LogId: self.GetId(), Run: run, NoFix: noFix})
	if err == nil {
		return reply
	}
	if ctx.Err() != nil {
		stop, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_, _ = Call[*actorsv1.SandboxCancelAck](stop, n, KindSandbox, id, &actorsv1.SandboxCancel{})
	}
	return &actorsv1.SandboxCheckReply{Error: fmt.Sprintf("the build sandbox did not answer: %v", err)}
}
