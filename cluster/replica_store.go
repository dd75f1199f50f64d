package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// tagReplica is the key space of replica records:
// r\x00kind\x00identity -> promised epoch | version epoch | version lsn
// (3 × 8 bytes big-endian). See docs/replication.md.
const tagReplica = 'r'

// version identifies the last write a copy of a grain applied: the epoch
// of the activation that wrote it and its sequence number in that
// activation's chain. Versions compare lexicographically.
type version struct{ epoch, lsn uint64 }

func (a version) less(b version) bool {
	return a.epoch < b.epoch || (a.epoch == b.epoch && a.lsn < b.lsn)
}

func (a version) proto() *clusterv1.ReplicaVersion {
	return &clusterv1.ReplicaVersion{Epoch: a.epoch, Lsn: a.lsn}
}

func versionOf(p *clusterv1.ReplicaVersion) version {
	return version{epoch: p.GetEpoch(), lsn: p.GetLsn()}
}

// replicaRecord is this node's replica state of one grain.
type replicaRecord struct {
	promised uint64  // highest epoch promised; older writers are refused
	v        version // last applied write
	// set names the replica set of the claim (epoch v.epoch) that wrote v:
	// the configuration a new claim must also reach a majority of.
	// Empty in records written before sets were recorded.
	set []string
}

func replicaKey(kind, identity string) []byte {
	k := make([]byte, 0, 3+len(kind)+len(identity))
	k = append(k, tagReplica, 0)
	k = append(k, kind...)
	k = append(k, 0)
	return append(k, identity...)
}

// encode: promised | version epoch | version lsn (3 × 8 bytes
// big-endian), then each name of set as uvarint length and bytes.
func (r replicaRecord) encode() []byte {
	b := make([]byte, 24, 24+8*len(r.set))
	binary.BigEndian.PutUint64(b[0:], r.promised)
	binary.BigEndian.PutUint64(b[8:], r.v.epoch)
	binary.BigEndian.PutUint64(b[16:], r.v.lsn)
	for _, name := range r.set {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
	}
	return b
}

func decodeRecord(v []byte) (replicaRecord, error) {
	if len(v) < 24 {
		return replicaRecord{}, fmt.Errorf("cluster: replica record of %d bytes", len(v))
	}
	rec := replicaRecord{
		promised: binary.BigEndian.Uint64(v[0:]),
		v:        version{binary.BigEndian.Uint64(v[8:]), binary.BigEndian.Uint64(v[16:])},
	}
	for rest := v[24:]; len(rest) > 0; {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) || n > maxNameLen {
			return replicaRecord{}, fmt.Errorf("cluster: replica record: bad replica set")
		}
		rec.set = append(rec.set, string(rest[k:k+int(n)]))
		rest = rest[k+int(n):]
	}
	return rec, nil
}

// readRecord returns the replica record of a grain (zero if none).
func readRecord(r pebble.Reader, kind, identity string) (replicaRecord, error) {
	v, closer, err := r.Get(replicaKey(kind, identity))
	if errors.Is(err, pebble.ErrNotFound) {
		return replicaRecord{}, nil
	}
	if err != nil {
		return replicaRecord{}, fmt.Errorf("cluster: read replica record: %w", err)
	}
	defer closer.Close()
	return decodeRecord(v)
}

// keyLocks serialises changes to one grain's replica state on this node
// (promise, apply, install, and the owner's local commit), so a check of
// the record and the commit that depends on it are atomic.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func (l *keyLocks) lock(key string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*keyLock{}
	}
	e := l.m[key]
	if e == nil {
		e = &keyLock{}
		l.m[key] = e
	}
	e.refs++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
}

// localCopy is a consistent view of a grain's local copy (a Pebble
// snapshot), read without copying its values: head holds its version,
// replica set and alarm; entries walks its keys.
type localCopy struct {
	snap   *pebble.Snapshot
	gs     *GrainStore
	head   *clusterv1.ReplicaSnapshot
	closed bool
}

func (s *Store) openCopy(kind, identity string) (*localCopy, error) {
	gs, err := s.Grain(kind, identity)
	if err != nil {
		return nil, err
	}
	c := &localCopy{snap: s.db.NewSnapshot(), gs: gs, head: &clusterv1.ReplicaSnapshot{Kind: kind, Identity: identity}}
	rec, err := readRecord(c.snap, kind, identity)
	if err != nil {
		c.close()
		return nil, err
	}
	c.head.Version, c.head.Set = rec.v.proto(), rec.set
	v, closer, err := c.snap.Get(alarmKey(kind, identity))
	switch {
	case err == nil:
		due, derr := decodeTime(v)
		closer.Close()
		if derr != nil {
			c.close()
			return nil, derr
		}
		c.head.AlarmUnixNano = due.UnixNano()
	case !errors.Is(err, pebble.ErrNotFound):
		c.close()
		return nil, fmt.Errorf("cluster: snapshot alarm: %w", err)
	}
	return c, nil
}

// entries calls fn with every key (relative to the grain) and value of
// the copy, in order; both are valid only during the call.
func (c *localCopy) entries(fn func(key, value []byte) error) error {
	it, err := c.snap.NewIter(&pebble.IterOptions{LowerBound: c.gs.prefix, UpperBound: prefixEnd(c.gs.prefix)})
	if err != nil {
		return fmt.Errorf("cluster: snapshot %s/%s: %w", c.gs.kind, c.gs.identity, err)
	}
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key()[len(c.gs.prefix):], it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("cluster: snapshot %s/%s: %w", c.gs.kind, c.gs.identity, err)
	}
	return nil
}

func (c *localCopy) close() {
	if !c.closed {
		c.closed = true
		c.snap.Close()
	}
}

// stageRepr adds a replicated batch representation of one grain to b,
// after checking that it only touches that grain's keys and alarm,
// together with the grain's new replica record; the caller holds the
// grain's key lock until b is committed.
func (s *Store) stageRepr(b *pebble.Batch, kind, identity string, repr []byte, rec replicaRecord) error {
	gs, err := s.Grain(kind, identity)
	if err != nil {
		return err
	}
	if len(repr) < 12 {
		return fmt.Errorf("cluster: replicated batch of %d bytes", len(repr))
	}
	end := prefixEnd(gs.prefix)
	alarm := alarmKey(kind, identity)
	rd, _ := pebble.ReadBatch(repr)
	for {
		kindOp, ukey, value, ok, err := rd.Next()
		if err != nil {
			return fmt.Errorf("cluster: replicated batch: %w", err)
		}
		if !ok {
			break
		}
		inGrain := bytes.HasPrefix(ukey, gs.prefix) || bytes.Equal(ukey, alarm)
		switch kindOp {
		case pebble.InternalKeyKindSet, pebble.InternalKeyKindDelete:
		case pebble.InternalKeyKindRangeDelete:
			inGrain = inGrain && bytes.Compare(value, end) <= 0
		default:
			inGrain = false
		}
		if !inGrain {
			return fmt.Errorf("cluster: replicated batch of %s/%s touches key %q (op %d)", kind, identity, ukey, kindOp)
		}
	}
	one := s.db.NewBatch()
	defer one.Close()
	if err := one.SetRepr(bytes.Clone(repr)); err != nil {
		return fmt.Errorf("cluster: replicated batch: %w", err)
	}
	if err := b.Apply(one, nil); err != nil {
		return fmt.Errorf("cluster: replicated batch: %w", err)
	}
	_ = b.Set(replicaKey(kind, identity), rec.encode(), nil)
	return nil
}

// writeRecord durably sets a grain's replica record alone (a promise); the
// caller holds the grain's key lock.
func (s *Store) writeRecord(kind, identity string, rec replicaRecord) error {
	if err := s.db.Set(replicaKey(kind, identity), rec.encode(), pebble.Sync); err != nil {
		return fmt.Errorf("cluster: write replica record: %w", err)
	}
	return nil
}

// grainExists reports whether the grain has keys or an alarm here.
func (s *Store) grainExists(kind, identity string) (bool, error) {
	gs, err := s.Grain(kind, identity)
	if err != nil {
		return false, err
	}
	if ok, err := gs.Exists(); err != nil || ok {
		return ok, err
	}
	_, ok, err := gs.Alarm()
	return ok, err
}

// replicatedGrains calls fn for every grain with data, an alarm or a
// replica record here.
func (s *Store) replicatedGrains(fn func(kind, identity string) error) error {
	seen := map[string]bool{}
	if err := s.Grains(func(kind, identity string) error {
		seen[kind+"\x00"+identity] = true
		return fn(kind, identity)
	}); err != nil {
		return err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagReplica, 0}, UpperBound: []byte{tagReplica, 1}})
	if err != nil {
		return fmt.Errorf("cluster: list replica records: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		parts := bytes.SplitN(it.Key()[2:], []byte{0}, 2)
		if len(parts) != 2 || seen[string(parts[0])+"\x00"+string(parts[1])] {
			continue
		}
		if err := fn(string(parts[0]), string(parts[1])); err != nil {
			return err
		}
	}
	return it.Error()
}
