// Package actors owns stich's grain kinds and the runtime they share:
//
//   - session (one per generation session): the driver of the generation
//     pipeline. The rules (phases, refinements, fix rounds, budgets,
//     versions, compaction) are package pipeline's pure Step; the grain
//     loads the state, feeds Step the requests, its worker's output and
//     check outcomes, commits state, events and writes in one synced batch
//     before anyone sees them, runs the provider steps and checks on its
//     owned worker, fans events out to watchers, and resumes interrupted
//     work after a restart.
//   - ratelimit (one per limit key, e.g. "create:ip:127.0.0.1"): a
//     sliding-window bucket.
//   - user (one per user id): profile, role, plan, password hash and the
//     SHA-256 of each live API key or browser session (user.go).
//   - directory (one per e-mail address): the user that holds it.
//   - apps (one per owner; "local" is the single owner's): the
//     index of the owner's apps — title, phase, version, times — that the
//     apps list pages through. Session grains report to it after each
//     phase change, off their mailbox and ordered by log seq; deleting a
//     session leaves a tombstone so that a late report cannot list it
//     again. Like every grain it lives on one owner node of the cluster
//     and moves with its storage when membership changes. A session with
//     no owner (stored before the index existed) is adopted by "local"
//     when it is next activated.
//
// Calls go through [Call], which takes the caller's context deadline and
// turns a grain's [actorsv1.GrainError] reply into an [*Error].
//
// Concurrency: each grain is single-threaded (its mailbox); blocking work
// (a provider's model calls, builds) runs on a worker goroutine owned by
// the grain, which reports back by message and is cancelled and awaited
// when the grain stops. Messages between grains are the typed protobuf
// messages of proto/stich/actors/v1; a grain's worker talks to its own
// grain with unexported Go messages that never leave the process.
//
// Package actors must not import rpc or cmd.
package actors
