package pipeline

import (
	"sort"

	"google.golang.org/protobuf/proto"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// maxUsageRows bounds the usage rows a session keeps (one per action and
// model); later pairs are added to the last row.
const maxUsageRows = 64

func addUsage(st *actorsv1.SessionState, m Usage) {
	var row *stichv1.ModelUsage
	for _, r := range st.Usage {
		if r.GetAction() == m.Action && r.GetModel() == m.Model {
			row = r
			break
		}
	}
	if row == nil {
		if len(st.Usage) >= maxUsageRows {
			row = st.Usage[len(st.Usage)-1]
		} else {
			row = &stichv1.ModelUsage{Action: m.Action, Model: m.Model}
			st.Usage = append(st.Usage, row)
		}
	}
	u := m.Usage
	row.PromptTokens += u.PromptTokens
	row.CompletionTokens += u.CompletionTokens
	row.CostUsd += u.CostUSD
	row.Requests += u.Requests
	row.Estimated = row.Estimated || u.Estimated
}

// SnapshotUsage puts the session's usage rows, sorted by action and
// model, and their totals in snap.
func SnapshotUsage(st *actorsv1.SessionState, snap *stichv1.Session) {
	c := snap.Counters
	for _, r := range st.Usage {
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
