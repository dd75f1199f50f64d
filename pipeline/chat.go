package pipeline

import (
	"context"
	"fmt"

	"github.com/stichdev/stich/codegen"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	stichv1 "github.com/stichdev/stich/proto/stich/v1"
)

// Conversation compaction. The session keeps the conversation the
// conversation model continues in its state: the user's applied messages
// and the replies (Conversation), and a summary of what was compacted away
// (ConversationSummary). Before a refinement is planned:
//
//  1. chatPlan counts the turns (recorded ones and queued messages) and
//     estimates their tokens; past Config.CompactTurns or
//     Config.CompactTokens it plans to compact all but the last
//     Config.CompactKeep recorded turns.
//  2. StepSpec.refine, on the worker, asks the provider's Compact for the
//     new summary, then plans the refinement on the compacted
//     conversation. A failed compaction is logged and the refinement goes
//     ahead on the whole conversation.
//  3. recordConversation, in Step, applies the compaction to the state and
//     appends the message and the reply; the state is saved with the
//     refinement's events, so the summary survives restarts.

// Compaction is a compaction done by the worker.
type Compaction struct {
	Summary string
	Dropped int // oldest recorded turns the summary replaces
}

// turnsOf returns the recorded turns of st. A session from before turns
// were recorded has its applied messages as user turns.
func turnsOf(st *actorsv1.SessionState) []*stichv1.ChatMessage {
	if len(st.Conversation) == 0 && st.ConversationSummary == "" {
		out := make([]*stichv1.ChatMessage, 0, len(st.AppliedMessages))
		for _, m := range st.AppliedMessages {
			out = append(out, &stichv1.ChatMessage{Role: "user", Text: m})
		}
		return out
	}
	return st.Conversation
}

// chatPlan is step 1 above.
func (c Config) chatPlan(st *actorsv1.SessionState) (codegen.Conversation, int) {
	recorded := turnsOf(st)
	conv := codegen.Conversation{
		Applied: append([]string(nil), st.AppliedMessages...),
		Summary: st.ConversationSummary,
		Turns:   make([]codegen.Turn, 0, len(recorded)),
	}
	bytes := len(st.ConversationSummary)
	for _, t := range recorded {
		conv.Turns = append(conv.Turns, codegen.Turn{Role: t.GetRole(), Text: t.GetText()})
		bytes += len(t.GetText())
	}
	for _, m := range st.PendingMessages {
		bytes += len(m)
	}
	compact := 0
	if turns, tokens := len(recorded)+len(st.PendingMessages), bytes/4; turns > c.CompactTurns || tokens > c.CompactTokens {
		compact = max(len(recorded)-c.CompactKeep, 0)
	}
	return conv, compact
}

// refine is step 2 above: the worker step that plans a refinement.
func (sp *StepSpec) refine(ctx context.Context, prov codegen.Provider, files map[string]string) Result {
	conv := sp.Chat
	var done *Compaction
	if sp.Compact > 0 {
		summary, err := prov.Compact(ctx, conv.Summary, conv.Turns[:sp.Compact])
		switch {
		case ctx.Err() != nil:
			return Result{Err: ctx.Err()}
		case err == nil && summary == "":
			err = fmt.Errorf("%w: the conversation summary is empty", ErrProtocol)
			fallthrough
		case err != nil:
			if log := codegen.LogFrom(ctx); log != nil {
				log(fmt.Sprintf("the conversation could not be compacted (%v); continuing with all of it", err))
			}
		default:
			done = &Compaction{Summary: bound(summary), Dropped: sp.Compact}
			conv.Summary, conv.Turns = done.Summary, conv.Turns[sp.Compact:]
		}
	}
	r, err := prov.Refine(ctx, sp.Prompt, conv, sp.Message, sp.Blueprint, files)
	return Result{Refine: r, Compaction: done, Err: err}
}

// bound cuts a provider's summary to codegen.MaxSummaryBytes of valid
// UTF-8.
func bound(s string) string {
	r := []rune(s) // invalid bytes become U+FFFD
	out := string(r)
	for len(out) > codegen.MaxSummaryBytes {
		r = r[:len(r)-max(1, (len(out)-codegen.MaxSummaryBytes)/4)]
		out = string(r)
	}
	return out
}

// recordConversation is step 3 above. It returns the events that report
// a compaction.
func recordConversation(st *actorsv1.SessionState, msg, reply string, c *Compaction) []*stichv1.SessionEvent {
	turns := turnsOf(st)
	var evs []*stichv1.SessionEvent
	if c != nil && c.Dropped <= len(turns) {
		turns = turns[c.Dropped:]
		st.ConversationSummary = c.Summary
		st.Compactions++
		evs = append(evs, logLine("agent", "info", fmt.Sprintf("conversation compacted: %d earlier message(s) summarised, the last %d kept", c.Dropped, len(turns))))
	}
	st.Conversation = append(append([]*stichv1.ChatMessage(nil), turns...),
		&stichv1.ChatMessage{Role: "user", Text: msg}, &stichv1.ChatMessage{Role: "assistant", Text: reply})
	return evs
}
