// Package cluster owns a stich node's substrate: the protoactor-go actor
// system and its cluster, the memberlist-based [Provider] that feeds it
// membership, grain placement and activation ([Node.Activate]), grain
// storage on Pebble ([Store], [GrainStore]) with persisted per-grain alarms,
// and its replication to other members.
//
// Storage contract (Durable-Object-style):
//  1. Grain storage is keyed by kind + identity, never by PID, so every
//     activation of a grain sees the same data.
//  2. Every write is committed with pebble.Sync; a write method returns only
//     after the synced commit did, so a reply sent after it is durable.
//  3. A [Batch] is atomic: all of its writes and alarm changes land, or none.
//  4. An alarm is persisted with the write that sets it and fires at least
//     once, also after a restart, until the grain deletes or replaces it.
//
// Activation contract:
//  1. On one node there is at most one activation of a (kind, identity) at a
//     time: a new one starts only after the previous one has stopped.
//  2. A grain passivates itself when idle; its next message activates it
//     again and it restores its state from storage.
//
// Replication contract (Config.ReplicationFactor R > 1; see replica.go and
// docs/replication.md):
//  1. A durable grain's storage is copied to its replica set: the first R
//     members in rendezvous order over live (not leaving) and failed
//     members, until a failed member is forgotten ([Node.Forget]).
//  2. An activation first obtains a new epoch from a majority of the set
//     (and of the set its newest copy was written under, when membership
//     changed that) and catches up from the newest copy; replicas refuse
//     writes of older epochs, so two activations never both get a write
//     acknowledged.
//  3. A write returns only after a majority of the set synced it; any
//     acknowledged write survives the loss of (R-1)/2 members. Writes
//     travel on the replication stream (repl_transport.go), and a follower
//     commits every write that arrived together in one synced commit.
//  4. A node that has never seen another member replicates nothing (one
//     copy, no extra work); R = 1 keeps storage moving with ownership.
//  5. A write no majority confirmed is reported as of unknown outcome
//     ([ErrOutcomeUnknown]); a lookup of a grain that exists nowhere writes
//     nothing ([ErrNoSuchGrain], [Kind.Creates]); a read is served only by
//     an owner a majority confirms ([ErrUnconfirmed], [Kind.Reads]); a node
//     whose data folder is new answers no promise until its peers repaired
//     it; whole copies of grains travel in bounded chunks (repl_bulk.go).
//     The full list of rules is in replica.go.
//
// Transport security (tls.go, admission.go): with Config.TLS, actor
// remoting and the replication stream use mutual TLS with the cluster CA,
// and a gossip member is admitted only after a mutual TLS handshake with
// its actor endpoint; without it every address must be loopback.
//
// Package cluster must not import actors, rpc or any domain package: it
// knows grains only as kinds with a producer.
package cluster
