package actors

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// Phase planning. The blueprint plans the first implementation phase;
// each later one is planned when the session enters it:
//
//  1. advance moves to the next roadmap index with state GENERATING and
//     no current phase (st.Current == nil), and logs that it is planning.
//  2. startStep, seeing no current phase, asks the provider's PlanPhase
//     (from the blueprint, the phases done, the files, the problems the
//     last review left and the queued messages).
//  3. onPhasePlanned checks the plan (keeping the roadmap's entry when it
//     is unusable), records it as the current phase and in the roadmap,
//     announces the phase, and starts implementing it.
//
// A session interrupted between 1 and 3 plans again when it resumes.

// phaseRequest is what the phase at st.PhaseIndex is planned from.
func phaseRequest(st *actorsv1.SessionState, files map[string]string) codegen.PhaseRequest {
	roadmap := st.GetBlueprint().GetRoadmap()
	i := int(st.PhaseIndex)
	req := codegen.PhaseRequest{Index: i, Files: files,
		Diagnostics: append([]*stichv1.Diagnostic(nil), st.Diagnostics...),
		Pending:     append([]string(nil), st.PendingMessages...)}
	if i < len(roadmap) {
		req.Roadmap = proto.Clone(roadmap[i]).(*stichv1.PhasePlan)
		for _, ph := range roadmap[:i] {
			req.Done = append(req.Done, proto.Clone(ph).(*stichv1.PhasePlan))
		}
	}
	return req
}

// planPhaseWork is the worker step that plans a phase.
func planPhaseWork(ctx context.Context, prov codegen.Provider, bp *stichv1.Blueprint, req codegen.PhaseRequest) func() *workResult {
	return func() *workResult {
		plan, err := prov.PlanPhase(ctx, bp, req)
		return &workResult{planned: true, plan: plan, err: err}
	}
}

// onPhasePlanned records the plan of the phase the session entered and
// starts implementing it.
func (g *sessionGrain) onPhasePlanned(ctx actor.Context, plan *stichv1.PhasePlan) {
	st := proto.Clone(g.st).(*actorsv1.SessionState)
	roadmap := st.GetBlueprint().GetRoadmap()
	i := int(st.PhaseIndex)
	if i >= len(roadmap) {
		g.fail(ctx, fmt.Errorf("%w: phase %d is beyond the roadmap's %d phases", errProtocol, i+1, len(roadmap)))
		return
	}
	var evs []*stichv1.SessionEvent
	if err := codegen.CheckPhase(plan); err != nil {
		evs = append(evs, logLine("agent", "warn", fmt.Sprintf("unusable plan for phase %d (%v); following the blueprint's roadmap", i+1, err)))
		plan = roadmap[i]
	}
	if i == len(roadmap)-1 {
		plan.LastPhase = true // a plan cannot extend the roadmap
	}
	if !proto.Equal(plan, roadmap[i]) {
		roadmap[i] = plan
		evs = append(evs, &stichv1.SessionEvent{Event: &stichv1.SessionEvent_Blueprint{Blueprint: &stichv1.BlueprintReady{Blueprint: st.Blueprint}}})
	}
	st.Current, st.Diagnostics, st.PhaseFilesDone, st.FixRounds = plan, nil, nil, 0
	evs = append(evs, phaseEvent(st.Phase, st.PhaseIndex, plan.GetName(), plan.GetDescription()))
	if err := g.commit(ctx, st, g.armAlarm, evs...); err != nil {
		g.fail(ctx, err)
		return
	}
	g.st = st
	g.startStep(ctx)
}
