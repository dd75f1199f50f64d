package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/sstable"
	"github.com/cockroachdb/pebble/vfs"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// Installs of whole copies (docs/replication.md, "Installing a whole
// copy", rule 19). A copy being received is held in memory, in one Pebble
// batch, only up to stageSpillBytes of entries; past that, what the
// batch holds and every later entry go to sstables in the store's
// staging folder as the chunks arrive. The install commits the batch
// (a small copy, as before) or ingests the staged tables together with
// tables of the grain's alarm and replica record: either way one atomic
// step. Until then a reader, a promise and a digest see the grain's
// previous copy (or none), unchanged; after it, the whole new copy. A cut
// transfer (the connection breaks, the sender dies) drops the batch and
// removes the staged files; a process killed meanwhile leaves staged
// files, which OpenStore removes: nothing of a half-received copy is ever
// in the database.
//
// Memory per install in flight: the chunk reader's buffers (32 KiB and a
// key), one value (the largest of the copy, up to a frame; twice when
// staged, as the table writer copies it into its block), and either the
// batch (at most stageSpillBytes of entries, in a buffer that grows by
// doubling: under 8 MiB) or one sstable writer's current block and index:
// a table is closed every stageTableBytes of entries, so its index (one
// entry per stageBlockSize of data) stays under ~150 KiB whatever the
// copy's size. Measured by TestLargeCopyInstallsInBoundedMemory.
//
// Why small copies stay in a batch: an ingest costs a few files, syncs
// and a memtable rotation; a repair that refills thousands of small
// grains would pay that for each.

const (
	// stageSpillBytes is the entry bytes a copy may hold in memory before
	// it is staged on disk.
	stageSpillBytes = 4 << 20
	// stageDirName is the staging folder, inside the store's folder
	// (Pebble ignores sub-folders); a sstable must be on the database's
	// file system to be ingested.
	stageDirName = "install-staging"
	// stageTableBytes is the entry bytes after which a staged table is
	// closed and the next one started.
	stageTableBytes = 32 << 20
	// stageBlockSize is the data block size of staged tables (Pebble's
	// default is 4 KiB: a quarter of the index entries). Compactions
	// rewrite them with the store's own options.
	stageBlockSize = 16 << 10
)

// stageSeq counts the staged tables ever created, for unique names.
var stageSeq atomic.Uint64

// copyStage is a whole copy of a grain being received (repl_bulk.go).
// Until it holds spillAt bytes of entries, they are in b, after a deletion
// of the grain's keys and alarm. Then they are staged in sstables: each
// table holds a range of the grain's keys, the entries received in that
// range, and a range deletion of that range (a range deletion in an
// ingested table removes only what was there before: the table's own
// keys get the same sequence number). The first range starts at the
// grain's prefix, the last ends at its end: ingested together they
// replace every key of the grain. finish adds a table with the copy's
// alarm (or its deletion); installSnapshot adds one with the replica
// record and ingests them all.
type copyStage struct {
	s       *Store
	gs      *GrainStore
	entries int    // entries added
	size    int    // their keys' and values' bytes (relative keys)
	key     []byte // the grain's prefix, then the entry's key
	last    []byte // the last entry's key (relative)
	val     []byte // a value being read (readChunk)

	// In memory (b != nil) until the entries reach spillAt bytes.
	b       *pebble.Batch
	spillAt int

	// Staged on disk.
	paths []string // every staged file, finished or not
	files []vfs.File
	w     *sstable.Writer // the table being written
	start []byte          // the first key of its range
	inTbl int             // entry bytes in it

	finished bool // finish done: every table closed
	synced   bool // every staged file synced and closed
}

// newCopyStage starts receiving the copy of a grain whose head is snap.
func (s *Store) newCopyStage(snap *clusterv1.ReplicaSnapshot) (*copyStage, error) {
	gs, err := s.Grain(snap.GetKind(), snap.GetIdentity())
	if err != nil {
		return nil, err
	}
	c := &copyStage{s: s, gs: gs, start: gs.prefix, spillAt: stageSpillBytes,
		key: append(make([]byte, 0, len(gs.prefix)+64), gs.prefix...)}
	c.b = s.db.NewBatch()
	_ = c.b.DeleteRange(gs.prefix, prefixEnd(gs.prefix), nil)
	_ = c.b.Delete(alarmKey(gs.kind, gs.identity), nil)
	return c, nil
}

// staged reports whether the copy is staged on disk.
func (c *copyStage) staged() bool { return c.b == nil }

// spill moves the entries of the batch into the first staged table.
func (c *copyStage) spill() error {
	b := c.b
	c.b = nil
	defer b.Close()
	var err error
	if c.w, err = c.newTable(); err != nil {
		return err
	}
	rd := b.Reader()
	for {
		kind, key, value, ok, err := rd.Next()
		if err != nil {
			return fmt.Errorf("cluster: stage a copy: %w", err)
		}
		if !ok {
			return nil
		}
		if kind != pebble.InternalKeyKindSet {
			continue // the deletions: the tables' range deletions replace them
		}
		if err := c.w.Set(key, value); err != nil {
			return fmt.Errorf("cluster: stage a copy: %w", err)
		}
		c.inTbl += len(key) - len(c.gs.prefix) + len(value)
	}
}

// stageWritable is a staged file as Pebble's sstable writer writes it:
// buffered, and neither synced nor closed by the writer (the stage syncs
// every file before the ingest, outside the grain's key lock).
type stageWritable struct {
	bw *bufio.Writer
}

func (w stageWritable) Write(p []byte) error { _, err := w.bw.Write(p); return err }
func (w stageWritable) Finish() error        { return w.bw.Flush() }
func (w stageWritable) Abort()               {}

// newTable creates a staged file and a table writer on it.
func (c *copyStage) newTable() (*sstable.Writer, error) {
	fs := c.s.fs
	path := fs.PathJoin(c.s.stageDir, fmt.Sprintf("%06d.sst", stageSeq.Add(1)))
	f, err := fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: stage a copy: %w", err)
	}
	c.paths = append(c.paths, path)
	c.files = append(c.files, f)
	opts := c.s.opts.MakeWriterOptions(0, c.s.db.FormatMajorVersion().MaxTableFormat())
	opts.BlockSize = stageBlockSize
	opts.FilterPolicy = nil // compactions add the store's filters
	opts.IndexBlockSize = 0
	return sstable.NewWriter(stageWritable{bufio.NewWriterSize(f, 64<<10)}, opts), nil
}

// add adds one entry (key relative to the grain) to the copy; keys must
// come in increasing order, as a copy is sent.
func (c *copyStage) add(key, value []byte) error {
	if len(key) == 0 || len(key) > maxNameLen {
		return fmt.Errorf("key %q: %w", key, ErrBadName)
	}
	if err := checkSnapshotSize(c.gs.kind, c.gs.identity, c.size+len(key)+len(value)); err != nil {
		return err
	}
	if c.finished {
		return errors.New("cluster: copy already finished")
	}
	if c.entries > 0 && bytes.Compare(key, c.last) <= 0 {
		return fmt.Errorf("cluster: copy entry %q after %q: entries out of order", key, c.last)
	}
	c.last = append(c.last[:0], key...)
	c.key = append(c.key[:len(c.gs.prefix)], key...)
	if !c.staged() && c.size+len(key)+len(value) > c.spillAt {
		if err := c.spill(); err != nil {
			return err
		}
	}
	switch {
	case !c.staged():
		if err := c.b.Set(c.key, value, nil); err != nil {
			return fmt.Errorf("cluster: stage a copy: %w", err)
		}
	case c.w == nil:
		return errors.New("cluster: copy already dropped")
	default:
		if c.inTbl >= stageTableBytes {
			// The table's range ends where this entry's begins.
			if err := c.closeTable(c.key); err != nil {
				return err
			}
			c.start = bytes.Clone(c.key)
			var err error
			if c.w, err = c.newTable(); err != nil {
				return err
			}
		}
		if err := c.w.Set(c.key, value); err != nil {
			return fmt.Errorf("cluster: stage a copy: %w", err)
		}
		c.inTbl += len(key) + len(value)
	}
	c.entries++
	c.size += len(key) + len(value)
	return nil
}

// closeTable ends the table being written with the deletion of its
// range [c.start, end).
func (c *copyStage) closeTable(end []byte) error {
	w := c.w
	c.w, c.inTbl = nil, 0
	if err := w.DeleteRange(c.start, end); err != nil {
		_ = w.Close()
		return fmt.Errorf("cluster: stage a copy: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("cluster: stage a copy: %w", err)
	}
	return nil
}

// finish ends the copy whose head is snap. In memory, the batch gets
// the alarm. Staged, the last table's range ends at the grain's end, and a
// table of its own sets the alarm (or deletes it); the tables' keys never
// overlap, which the ingest requires.
func (c *copyStage) finish(snap *clusterv1.ReplicaSnapshot) error {
	if c.finished {
		return nil
	}
	if !c.staged() {
		if ns := snap.GetAlarmUnixNano(); ns != 0 {
			_ = c.b.Set(alarmKey(c.gs.kind, c.gs.identity), encodeTime(time.Unix(0, ns)), nil)
		}
		c.finished = true
		return nil
	}
	if err := c.closeTable(prefixEnd(c.gs.prefix)); err != nil {
		return err
	}
	w, err := c.newTable()
	if err != nil {
		return err
	}
	key := alarmKey(c.gs.kind, c.gs.identity)
	if ns := snap.GetAlarmUnixNano(); ns != 0 {
		err = w.Set(key, encodeTime(time.Unix(0, ns)))
	} else {
		err = w.Delete(key)
	}
	if err = errors.Join(err, w.Close()); err != nil {
		return fmt.Errorf("cluster: stage a copy: %w", err)
	}
	c.finished = true
	return nil
}

// sync makes every staged file durable and closes it (the ingest links
// them into the database, which syncs only its own directory and
// manifest). An install calls it before it takes the grain's key lock.
func (c *copyStage) sync() error {
	if !c.finished {
		return errors.New("cluster: install of a copy not received in full")
	}
	if c.synced {
		return nil
	}
	for i, f := range c.files {
		if f == nil {
			continue
		}
		err := f.Sync()
		err = errors.Join(err, f.Close())
		c.files[i] = nil
		if err != nil {
			return fmt.Errorf("cluster: stage a copy: %w", err)
		}
	}
	c.synced = true
	return nil
}

// close drops the copy: its staged files are closed and removed (after
// an ingest, Pebble removed them already). It is idempotent.
func (c *copyStage) close() {
	if c == nil {
		return
	}
	if c.b != nil {
		_ = c.b.Close()
		c.b = nil
	}
	if c.w != nil {
		_ = c.w.Close()
		c.w = nil
	}
	for i, f := range c.files {
		if f != nil {
			_ = f.Close()
			c.files[i] = nil
		}
	}
	for _, p := range c.paths {
		_ = c.s.fs.Remove(p)
	}
	c.paths = nil
}

// installSnapshot replaces the local copy of a grain with the copy whose
// head (version, set, alarm) is snap and whose entries are in c, and sets
// its replica record to rec, in one atomic and durable step (a synced
// commit of c's batch, or an ingest of its staged tables); the caller
// holds the grain's key lock. It consumes c.
func (s *Store) installSnapshot(snap *clusterv1.ReplicaSnapshot, c *copyStage, rec replicaRecord) error {
	defer c.close()
	gs := c.gs
	if gs.kind != snap.GetKind() || gs.identity != snap.GetIdentity() {
		return fmt.Errorf("cluster: install %s/%s: the copy received is of %s/%s", snap.GetKind(), snap.GetIdentity(), gs.kind, gs.identity)
	}
	if err := c.sync(); err != nil {
		return fmt.Errorf("cluster: install %s/%s: %w", gs.kind, gs.identity, err)
	}
	if !c.staged() {
		_ = c.b.Set(replicaKey(gs.kind, gs.identity), rec.encode(), nil)
		if err := c.b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("cluster: install %s/%s: %w", gs.kind, gs.identity, err)
		}
		return nil
	}
	w, err := c.newTable()
	if err == nil {
		err = errors.Join(w.Set(replicaKey(gs.kind, gs.identity), rec.encode()), w.Close())
	}
	if err == nil {
		c.synced = false
		err = c.sync()
	}
	if err == nil {
		err = s.db.Ingest(c.paths)
	}
	if err != nil {
		return fmt.Errorf("cluster: install %s/%s: %w", gs.kind, gs.identity, err)
	}
	c.paths = nil // Pebble removed them
	return nil
}

// clearStaging removes what installs in progress when the process
// stopped left in the staging folder, and creates it; OpenStore calls
// it.
func clearStaging(fs vfs.FS, dir string) error {
	if err := fs.RemoveAll(dir); err != nil {
		return fmt.Errorf("cluster: clear %s: %w", dir, err)
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cluster: create %s: %w", dir, err)
	}
	return nil
}

// stagedFiles lists the staging folder (tests).
func (s *Store) stagedFiles() ([]string, error) {
	return s.fs.List(s.stageDir)
}
