package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"
)

// Storage errors.
var (
	// ErrNotFound reports a key that has no value.
	ErrNotFound = errors.New("cluster: key not found")
	// ErrBadName reports a kind, identity or key that cannot be stored.
	ErrBadName = errors.New("cluster: invalid storage name")
	// ErrClosed reports use of a closed store.
	ErrClosed = errors.New("cluster: store closed")
)

// Key spaces. Every key starts with one tag byte and 0x00-separated parts, so
// no grain's keys can be a prefix of another grain's.
const (
	tagGrain = 'g' // g\x00kind\x00identity\x00key -> value
	tagAlarm = 'a' // a\x00kind\x00identity -> 8-byte big-endian unix nanos
)

// maxNameLen bounds kinds, identities and keys.
const maxNameLen = 1024

// StoreOptions configures [OpenStore].
type StoreOptions struct {
	// CacheSize is Pebble's block cache in bytes. 0 means 64 MiB.
	CacheSize int64
	// InMemory keeps the store in memory (tests only; nothing is durable).
	InMemory bool
}

// Store is a node's grain storage on one Pebble database. It is safe for
// concurrent use.
type Store struct {
	db *pebble.DB
	// opts are the database's options (defaults filled in), fs its file
	// system, stageDir the folder where copies being received are staged
	// (replica_install.go).
	opts     *pebble.Options
	fs       vfs.FS
	stageDir string

	// alarmMu serialises alarm mutations so that a compare-and-delete by the
	// scheduler and a grain's SetAlarm cannot interleave.
	alarmMu sync.Mutex
	// alarmHook is told about every committed alarm change.
	alarmHook func(kind, identity string, due time.Time, set bool)

	closeOnce sync.Once
	closeErr  error
}

// OpenStore opens (or creates) the grain store in dir.
func OpenStore(dir string, opts StoreOptions) (*Store, error) {
	popts := &pebble.Options{Logger: quietLogger{}}
	// Bloom filters on every level: a point read (a grain's state when it
	// activates, a lookup of an absent key) skips the sstables that do not
	// hold its key, so its cost does not grow with the number of grains.
	popts.Levels = make([]pebble.LevelOptions, 7)
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 64 << 20
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	popts.Cache = cache
	if opts.InMemory {
		popts.FS = vfsNewMem()
	}
	// Installs ingest sstables (replica_install.go); an ingest that
	// overlaps the memtable then joins the flush queue instead of waiting
	// for a flush (which would stall every write on the node meanwhile).
	// Opening an older store upgrades it, once, to this format.
	popts.FormatMajorVersion = pebble.FormatFlushableIngest
	popts = popts.EnsureDefaults()
	db, err := pebble.Open(dir, popts)
	if err != nil {
		return nil, fmt.Errorf("cluster: open store %s: %w", dir, err)
	}
	// Under Pebble's lock on the folder: what an install left when the
	// process stopped is dropped (replica_install.go).
	stageDir := popts.FS.PathJoin(dir, stageDirName)
	if err := clearStaging(popts.FS, stageDir); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, opts: popts, fs: popts.FS, stageDir: stageDir}, nil
}

// Close flushes and closes the store. It is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// DB exposes the Pebble database, for benchmarks that compare against raw
// Pebble. Grains must use [GrainStore].
func (s *Store) DB() *pebble.DB { return s.db }

// Grain returns the storage of one grain. It fails only for names that
// cannot be stored (empty, too long, or containing a NUL byte).
func (s *Store) Grain(kind, identity string) (*GrainStore, error) {
	if err := checkName(kind); err != nil {
		return nil, fmt.Errorf("kind %q: %w", kind, err)
	}
	if err := checkName(identity); err != nil {
		return nil, fmt.Errorf("identity %q: %w", identity, err)
	}
	prefix := make([]byte, 0, 4+len(kind)+len(identity))
	prefix = append(prefix, tagGrain, 0)
	prefix = append(prefix, kind...)
	prefix = append(prefix, 0)
	prefix = append(prefix, identity...)
	prefix = append(prefix, 0)
	return &GrainStore{s: s, kind: kind, identity: identity, prefix: prefix}, nil
}

func checkName(n string) error {
	if n == "" || len(n) > maxNameLen || strings.IndexByte(n, 0) >= 0 {
		return ErrBadName
	}
	return nil
}

func alarmKey(kind, identity string) []byte {
	k := make([]byte, 0, 3+len(kind)+len(identity))
	k = append(k, tagAlarm, 0)
	k = append(k, kind...)
	k = append(k, 0)
	return append(k, identity...)
}

func encodeTime(t time.Time) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.UnixNano()))
	return b[:]
}

func decodeTime(b []byte) (time.Time, error) {
	if len(b) != 8 {
		return time.Time{}, fmt.Errorf("cluster: alarm value of %d bytes", len(b))
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))), nil
}

// Alarm is a persisted alarm of one grain.
type Alarm struct {
	Kind, Identity string
	Due            time.Time
}

// Alarms lists every persisted alarm (used at start-up to re-arm them).
func (s *Store) Alarms() ([]Alarm, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagAlarm, 0}, UpperBound: []byte{tagAlarm, 1}})
	if err != nil {
		return nil, fmt.Errorf("cluster: list alarms: %w", err)
	}
	defer it.Close()
	var out []Alarm
	for it.First(); it.Valid(); it.Next() {
		parts := bytes.SplitN(it.Key()[2:], []byte{0}, 2)
		if len(parts) != 2 {
			continue
		}
		due, err := decodeTime(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, Alarm{Kind: string(parts[0]), Identity: string(parts[1]), Due: due})
	}
	return out, it.Error()
}

// deleteAlarmIf deletes the alarm of (kind, identity) if it is still due at
// due and unchanged reports true (evaluated with alarm writes excluded); it
// reports whether it deleted it.
func (s *Store) deleteAlarmIf(kind, identity string, due time.Time, unchanged func() bool) (bool, error) {
	s.alarmMu.Lock()
	defer s.alarmMu.Unlock()
	if unchanged != nil && !unchanged() {
		return false, nil
	}
	key := alarmKey(kind, identity)
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cluster: read alarm: %w", err)
	}
	cur, derr := decodeTime(v)
	closer.Close()
	if derr != nil || !cur.Equal(due) {
		return false, derr
	}
	if err := s.db.Delete(key, pebble.Sync); err != nil {
		return false, fmt.Errorf("cluster: delete alarm: %w", err)
	}
	if s.alarmHook != nil {
		s.alarmHook(kind, identity, time.Time{}, false)
	}
	return true, nil
}

// GrainStore is the durable storage of one grain. Grains are single-threaded,
// but GrainStore is also safe for concurrent use.
type GrainStore struct {
	s              *Store
	kind, identity string
	prefix         []byte
	// rep, when set, is the activation's replication claim: commits go
	// through it (see replica.go). nil means local-only commits, the
	// unchanged R = 1 path.
	rep *claim
}

// ClaimEpoch is the replication epoch this activation claimed from a
// majority and writes a replicated grain under (docs/replication.md); 0
// for a store that is not an activation's or a grain not replicated.
func (g *GrainStore) ClaimEpoch() uint64 {
	if g.rep == nil {
		return 0
	}
	return g.rep.epoch
}

// Kind returns the grain's kind.
func (g *GrainStore) Kind() string { return g.kind }

// Identity returns the grain's identity.
func (g *GrainStore) Identity() string { return g.identity }

func (g *GrainStore) key(k string) ([]byte, error) {
	if k == "" || len(k) > maxNameLen {
		return nil, fmt.Errorf("key %q: %w", k, ErrBadName)
	}
	out := make([]byte, 0, len(g.prefix)+len(k))
	out = append(out, g.prefix...)
	return append(out, k...), nil
}

// Get returns a copy of the value of key, or [ErrNotFound].
func (g *GrainStore) Get(key string) ([]byte, error) {
	k, err := g.key(key)
	if err != nil {
		return nil, err
	}
	v, closer, err := g.s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: get %s/%s %q: %w", g.kind, g.identity, key, err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// Put durably sets key to value.
func (g *GrainStore) Put(key string, value []byte) error {
	b := g.NewBatch()
	b.Put(key, value)
	return b.Commit()
}

// Delete durably removes key.
func (g *GrainStore) Delete(key string) error {
	b := g.NewBatch()
	b.Delete(key)
	return b.Commit()
}

// List calls fn for each key with the given prefix and greater than after
// (the empty string means from the first), in key order, at most limit
// times (0 means no limit). Keys are passed without the grain's prefix;
// values are only valid during the call.
func (g *GrainStore) List(prefix, after string, limit int, fn func(key string, value []byte) error) error {
	lower := append(bytes.Clone(g.prefix), prefix...)
	upper := prefixEnd(lower)
	it, err := g.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("cluster: list %s/%s: %w", g.kind, g.identity, err)
	}
	defer it.Close()
	var valid bool
	if after == "" {
		valid = it.First()
	} else {
		seek := append(bytes.Clone(g.prefix), after...)
		valid = it.SeekGE(append(seek, 0))
	}
	n := 0
	for ; valid; valid = it.Next() {
		if limit > 0 && n >= limit {
			break
		}
		if err := fn(string(it.Key()[len(g.prefix):]), it.Value()); err != nil {
			return err
		}
		n++
	}
	return it.Error()
}

// Last returns the greatest key with the given prefix and its value, or
// [ErrNotFound].
func (g *GrainStore) Last(prefix string) (string, []byte, error) {
	lower := append(bytes.Clone(g.prefix), prefix...)
	it, err := g.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return "", nil, fmt.Errorf("cluster: last %s/%s: %w", g.kind, g.identity, err)
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return "", nil, err
		}
		return "", nil, ErrNotFound
	}
	return string(it.Key()[len(g.prefix):]), bytes.Clone(it.Value()), nil
}

// Exists reports whether the grain has any stored key.
func (g *GrainStore) Exists() (bool, error) {
	it, err := g.s.db.NewIter(&pebble.IterOptions{LowerBound: g.prefix, UpperBound: prefixEnd(g.prefix)})
	if err != nil {
		return false, fmt.Errorf("cluster: probe %s/%s: %w", g.kind, g.identity, err)
	}
	defer it.Close()
	return it.First(), it.Error()
}

// Grains calls fn for every grain that has stored keys or an alarm, once
// each, in key order.
func (s *Store) Grains(fn func(kind, identity string) error) error {
	seen := map[string]bool{}
	for _, tag := range []byte{tagGrain, tagAlarm} {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tag, 0}, UpperBound: []byte{tag, 1}})
		if err != nil {
			return fmt.Errorf("cluster: list grains: %w", err)
		}
		for valid := it.First(); valid; {
			parts := bytes.SplitN(it.Key()[2:], []byte{0}, 3)
			if len(parts) < 2 {
				valid = it.Next()
				continue
			}
			kind, identity := string(parts[0]), string(parts[1])
			id := kind + "\x00" + identity
			if !seen[id] {
				seen[id] = true
				if err := fn(kind, identity); err != nil {
					it.Close()
					return err
				}
			}
			// Skip the rest of this grain's keys.
			next := append([]byte{tag, 0}, kind...)
			next = append(next, 0)
			next = append(next, identity...)
			valid = it.SeekGE(prefixEnd(append(next, 0)))
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Alarm returns the grain's persisted alarm, if any.
func (g *GrainStore) Alarm() (time.Time, bool, error) {
	v, closer, err := g.s.db.Get(alarmKey(g.kind, g.identity))
	if errors.Is(err, pebble.ErrNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("cluster: read alarm: %w", err)
	}
	defer closer.Close()
	t, err := decodeTime(v)
	return t, err == nil, err
}

// SetAlarm durably sets the grain's alarm to due, replacing any other.
func (g *GrainStore) SetAlarm(due time.Time) error {
	b := g.NewBatch()
	b.SetAlarm(due)
	return b.Commit()
}

// DeleteAlarm durably removes the grain's alarm.
func (g *GrainStore) DeleteAlarm() error {
	b := g.NewBatch()
	b.DeleteAlarm()
	return b.Commit()
}

// DeleteAll durably removes every key and the alarm of the grain.
func (g *GrainStore) DeleteAll() error {
	b := g.NewBatch()
	b.b.DeleteRange(g.prefix, prefixEnd(g.prefix), nil)
	b.DeleteAlarm()
	return b.Commit()
}

// NewBatch starts an atomic batch of writes to the grain's storage.
func (g *GrainStore) NewBatch() *Batch {
	return &Batch{g: g, b: g.s.db.NewBatch()}
}

// Batch is an atomic set of writes to one grain's storage. It is not safe
// for concurrent use. A Batch that is not committed must be discarded with
// [Batch.Close].
type Batch struct {
	g        *GrainStore
	b        *pebble.Batch
	err      error
	alarmOp  int // 0 none, 1 set, 2 delete
	alarmDue time.Time
	done     bool
}

// Put adds a write of key.
func (b *Batch) Put(key string, value []byte) {
	k, err := b.g.key(key)
	if err != nil {
		b.err = errors.Join(b.err, err)
		return
	}
	_ = b.b.Set(k, value, nil)
}

// Delete adds a deletion of key.
func (b *Batch) Delete(key string) {
	k, err := b.g.key(key)
	if err != nil {
		b.err = errors.Join(b.err, err)
		return
	}
	_ = b.b.Delete(k, nil)
}

// SetAlarm sets the grain's alarm to due when the batch commits.
func (b *Batch) SetAlarm(due time.Time) {
	_ = b.b.Set(alarmKey(b.g.kind, b.g.identity), encodeTime(due), nil)
	b.alarmOp, b.alarmDue = 1, due
}

// DeleteAlarm removes the grain's alarm when the batch commits.
func (b *Batch) DeleteAlarm() {
	_ = b.b.Delete(alarmKey(b.g.kind, b.g.identity), nil)
	b.alarmOp = 2
}

// Len reports the batch's size in bytes.
func (b *Batch) Len() int { return b.b.Len() }

// Commit applies the batch atomically and returns after it is synced to
// disk (and, for a replicated grain, to a majority of its replica set). A
// batch can be committed once.
func (b *Batch) Commit() error {
	if b.done {
		return errors.New("cluster: batch already committed")
	}
	b.done = true
	defer b.b.Close()
	if b.err != nil {
		return b.err
	}
	if c := b.g.rep; c != nil {
		return c.commit(b)
	}
	return b.commitLocal()
}

// commitLocal commits the batch to this node's Pebble (synced) and tells
// the alarm scheduler about alarm changes.
func (b *Batch) commitLocal() error {
	if b.alarmOp != 0 {
		b.g.s.alarmMu.Lock()
		defer b.g.s.alarmMu.Unlock()
	}
	if err := b.b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("cluster: commit %s/%s: %w", b.g.kind, b.g.identity, err)
	}
	if hook := b.g.s.alarmHook; hook != nil && b.alarmOp != 0 {
		hook(b.g.kind, b.g.identity, b.alarmDue, b.alarmOp == 1)
	}
	return nil
}

// Close discards an uncommitted batch. It is safe after Commit.
func (b *Batch) Close() {
	if !b.done {
		b.done = true
		b.b.Close()
	}
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
