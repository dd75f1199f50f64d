// Package cluster owns a stich node's substrate: the protoactor-go actor
// system and its cluster, the memberlist-based [Provider] that feeds it
// membership, grain placement and activation ([Node.Activate]), and grain
// storage on Pebble ([Store], [GrainStore]) with persisted per-grain alarms.
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
// Package cluster must not import actors, rpc or any domain package: it
// knows grains only as kinds with a producer.
package cluster
