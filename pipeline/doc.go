// Package pipeline owns the rules of a generation session: the phase
// state machine planning → generating → reviewing → fixing → completed
// (and back to planning for each chat refinement), refinement and phase
// planning, fix rounds and budgets, turning a sandbox check into events,
// versions, rollback and diff, chat compaction and model usage.
//
// Its core is [Config.Step], a deterministic function in the style of
// etcd raft's Ready loop:
//
//	Step(state, now, input) → (state, output)
//
// where the output holds the events to append, the effects to perform and,
// for a request, its reply or its refusal. Step does no I/O, reads no
// clock (now is an argument) and starts no goroutine. A driver (the
// session grain in package actors) loads a [State], feeds it inputs,
// commits the new durable state, the events and the write effects in one
// synced batch, and only then performs the other effects (run a provider
// step, run a check, cancel one) and fans the events out. A step's worker
// runs [StepSpec.Run] with the provider; what it streams and returns comes
// back as inputs ([Work], [Result]).
//
// Invariants (checked by the property test):
//
//  1. Events get contiguous seqs: each output's events continue
//     State.LastSeq without a gap.
//  2. Every piece of work (a generation, or a refinement started on an
//     idle session) ends with exactly one terminal event: Completed, or an
//     Error (a failure), or GenerationStopped; a resumed piece continues
//     the same piece.
//  3. Versions are immutable: a version record, once in an output, is
//     never written again; numbers grow by one.
//  4. A stopped (or failed, or completed) session does no work: no input
//     starts a provider step on it except Resume and, for a completed
//     one, a user's message.
//  5. A refinement of an idle session ends with a ChangeCard right before
//     its Completed: each file changed since the work started, and what
//     was not done. It records a version only when a file changed.
//  6. A file the user edited (State.Session.UserEdits) is never
//     overwritten with content generated without the edits: a step's
//     worker merges them (see [StepSpec.Run]) or keeps the file and says
//     so.
//
// Concurrency: none; a State belongs to one driver. State.Session is never
// changed in place (Step clones it before changing it), so a driver may
// keep the previous state to fall back on when a commit fails. The
// volatile part (State.Streams, files being streamed) is changed in
// place.
//
// Package pipeline must not import actors, rpc, cluster or cmd; it uses
// codegen (the provider contract), textdiff and the proto messages.
package pipeline
