package actors

import (
	"sort"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// Model usage. A provider reports the usage of each model request as it
// ends (codegen.ContextWithUsage); the worker forwards it to the grain as
// a usageEvent, which adds it to the session's rows (one per action and
// model) in its state, so totals survive restarts:
//
//  1. While the step that made the request runs, the rows are saved with
//     the state when the step ends (its result, a failure or a stop is
//     always committed with the state). NB: this keeps a write off the
//     path from the blueprint to the first streamed file; a crash before
//     the step ends loses that step's usage, and the step is redone.
//  2. Usage that arrives when no step runs (the step was stopped or
//     replaced) is saved at once: those tokens were spent too.

// maxUsageRows bounds the rows a session keeps; later pairs of action and
// model are added to the last row.
const maxUsageRows = 64

// usageEvent is the usage of one model request. It never leaves the
// process.
type usageEvent struct {
	action, model string
	usage         codegen.Usage
}

func (g *sessionGrain) onUsage(ctx actor.Context, m *usageEvent) {
	if g.st == nil {
		return
	}
	if g.work != nil {
		addUsage(g.st, m) // saved when the step ends (1 above)
		return
	}
	st := proto.Clone(g.st).(*actorsv1.SessionState)
	addUsage(st, m)
	if err := g.commit(ctx, st, nil); err != nil {
		g.log().Warn("record model usage", "err", err)
		return
	}
	g.st = st
}

func addUsage(st *actorsv1.SessionState, m *usageEvent) {
	var row *stichv1.ModelUsage
	for _, r := range st.Usage {
		if r.GetAction() == m.action && r.GetModel() == m.model {
			row = r
			break
		}
	}
	if row == nil {
		if len(st.Usage) >= maxUsageRows {
			row = st.Usage[len(st.Usage)-1]
		} else {
			row = &stichv1.ModelUsage{Action: m.action, Model: m.model}
			st.Usage = append(st.Usage, row)
		}
	}
	u := m.usage
	row.PromptTokens += u.PromptTokens
	row.CompletionTokens += u.CompletionTokens
	row.CostUsd += u.CostUSD
	row.Requests += u.Requests
	row.Estimated = row.Estimated || u.Estimated
}

// snapshotUsage puts the session's usage rows, sorted by action and
// model, and their totals in snap.
func (g *sessionGrain) snapshotUsage(snap *stichv1.Session) {
	c := snap.Counters
	for _, r := range g.st.Usage {
		snap.Usage = append(snap.Usage, proto.Clone(r).(*stichv1.ModelUsage))
		c.PromptTokens += r.GetPromptTokens()
		c.CompletionTokens += r.GetCompletionTokens()
		c.CostUsd += r.GetCostUsd()
		c.ModelRequests += r.GetRequests()
		c.UsageEstimated = c.UsageEstimated || r.GetEstimated()
	}
	sort.Slice(snap.Usage, func(i, j int) bool {
		a, b := snap.Usage[i], snap.Usage[j]
		if a.GetAction() != b.GetAction() {
			return a.GetAction() < b.GetAction()
		}
		return a.GetModel() < b.GetModel()
	})
}
