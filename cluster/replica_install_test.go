package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/stichdev/stich/internal/testutil"
	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// Sizes of the bounded-memory test's copy: 64 Ki entries of 1 KiB.
const (
	boundedEntries   = 64 << 10
	boundedValueSize = 1 << 10
	// boundedHeldMax bounds the heap the receiver holds while it receives
	// the 64 MiB copy (measured: 1.7 MiB with the sender's buffers; a copy
	// held in memory, as in a Pebble batch before copies were staged,
	// holds what has arrived).
	boundedHeldMax = 16 << 20
)

// boundedChildEnv marks the process that measures.
const boundedChildEnv = "STICH_TEST_BOUNDED_INSTALL_CHILD"

func boundedKey(i int) string { return fmt.Sprintf("e%06d", i) }

// fillBoundedValue writes entry i's value into v (the same bytes on both
// ends, computed, not stored).
func fillBoundedValue(v []byte, i int) {
	for j := range v {
		v[j] = byte(i*7 + j*13 + j>>8)
	}
}

// sendBoundedCopy writes the chunks of the test's 64 MiB copy and its end
// frame to w, as sendCopy frames them, from one reused buffer, and calls
// sample after every 8th chunk is written.
func sendBoundedCopy(w io.Writer, sample func()) error {
	frame := make([]byte, 0, snapshotChunk+64<<10)
	value := make([]byte, boundedValueSize)
	start := func() { frame = append(frame[:0], make([]byte, 4+frameHeader)...) }
	chunks := 0
	flush := func() error {
		putFrameHeader(frame, frameSnapChunk, 0)
		if _, err := w.Write(frame); err != nil {
			return err
		}
		if chunks++; chunks%8 == 0 {
			sample()
		}
		return nil
	}
	start()
	for i := range boundedEntries {
		key := boundedKey(i)
		fillBoundedValue(value, i)
		entry := protowire.SizeTag(1) + protowire.SizeBytes(len(key)) + protowire.SizeTag(2) + protowire.SizeBytes(len(value))
		frame = protowire.AppendTag(frame, 4, protowire.BytesType)
		frame = protowire.AppendVarint(frame, uint64(entry))
		frame = protowire.AppendTag(frame, 1, protowire.BytesType)
		frame = protowire.AppendString(frame, key)
		frame = protowire.AppendTag(frame, 2, protowire.BytesType)
		frame = protowire.AppendBytes(frame, value)
		if len(frame) >= snapshotChunk {
			if err := flush(); err != nil {
				return err
			}
			start()
		}
	}
	if len(frame) > 4+frameHeader {
		if err := flush(); err != nil {
			return err
		}
	}
	end, err := proto.Marshal(&clusterv1.SnapshotEnd{Entries: boundedEntries})
	if err != nil {
		return err
	}
	_, err = w.Write(appendFrame(frame[:0], frameSnapEnd, 0, end))
	return err
}

// liveHeap returns the bytes of the live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestLargeCopyInstallsInBoundedMemory receives a 64 MiB copy of 64 Ki
// entries over a synchronous pipe into a store on disk that holds an
// older copy of the grain (other keys, an alarm) and installs it. Every
// 8 MiB, once the receiver has read them (a pipe's write returns when the
// reader took every byte), the live heap is measured: what the receiver
// holds stays under 16 MiB (the copy is staged on disk as it arrives, in
// tables of at most 32 MiB, here three). Afterwards the grain holds
// exactly the new copy, its record and no alarm, and its neighbours are
// untouched. Before copies were staged, a receiver collected the whole
// copy in one Pebble batch in memory: 129 MiB held (measured on 5be56d1).
//
// The measurement runs in a process of its own (this test binary run
// again for this test alone): in the package's process, what earlier
// tests left to the collector moves the live heap by more than the bound.
func TestLargeCopyInstallsInBoundedMemory(t *testing.T) {
	if os.Getenv(boundedChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLargeCopyInstallsInBoundedMemory$", "-test.count=1", "-test.v", "-test.timeout=10m")
		cmd.Env = append(os.Environ(), boundedChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "replica_install_test.go") {
				t.Log(strings.TrimSpace(line))
			}
		}
		if err != nil {
			t.Fatalf("the measuring process: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestLargeCopyInstallsInBoundedMemory") {
			t.Fatalf("the measuring process did not pass the test:\n%s", out)
		}
		return
	}
	dst, err := OpenStore(t.TempDir(), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	// The older copy: keys before, among and after the new ones, and an
	// alarm; and two neighbouring grains.
	old, _ := dst.Grain("counter", "big")
	for _, k := range []string{"a-old", "e000100-old", "e040000-old", "e065535-old", "z-old"} {
		if err := old.Put(k, []byte("old")); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.SetAlarm(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := dst.writeRecord("counter", "big", replicaRecord{promised: 2, v: version{2, 9}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"bif", "bih", "big2"} {
		n, _ := dst.Grain("counter", id)
		if err := n.Put("k", []byte(id)); err != nil {
			t.Fatal(err)
		}
	}

	recv, send := net.Pipe()
	defer recv.Close()
	base := liveHeap()
	var peak uint64
	sample := func() { peak = max(peak, liveHeap()) }
	sent := make(chan error, 1)
	go func() {
		defer send.Close()
		sent <- sendBoundedCopy(send, sample)
	}()
	head := &clusterv1.ReplicaSnapshot{Kind: "counter", Identity: "big", Version: version{3, 1}.proto()}
	rec := replicaRecord{promised: 3, v: version{3, 1}, set: []string{"a", "b", "c"}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b := newBulkConn(recv, bufio.NewReaderSize(recv, 32<<10), 5*time.Minute)
	body, err := b.readCopy(dst, head)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	sample()
	tables := len(body.paths)
	if err := dst.installSnapshot(head, body, rec); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	held := int64(peak) - int64(base)
	t.Logf("64 MiB copy staged in %d tables (with the alarm's; the record's is the next): at most %d KiB held, %d KiB allocated in all",
		tables, held>>10, (after.TotalAlloc-before.TotalAlloc)>>10)
	if held > boundedHeldMax {
		t.Fatalf("receiving a %d MiB copy held %d MiB of heap (limit %d MiB): the copy is held in memory",
			boundedEntries*boundedValueSize>>20, held>>20, boundedHeldMax>>20)
	}
	if tables < 3 { // two data tables (32 MiB each at most), the alarm's
		t.Fatalf("the copy was staged in %d tables, want at least 3", tables)
	}

	// The grain holds the new copy, exactly.
	want := make([]byte, boundedValueSize)
	i := 0
	if err := old.List("", "", 0, func(key string, value []byte) error {
		if key != boundedKey(i) {
			return fmt.Errorf("entry %d: key %q, want %q", i, key, boundedKey(i))
		}
		fillBoundedValue(want, i)
		if !bytes.Equal(value, want) {
			return fmt.Errorf("entry %q: value differs", key)
		}
		i++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if i != boundedEntries {
		t.Fatalf("installed copy holds %d entries, want %d", i, boundedEntries)
	}
	if _, ok, err := old.Alarm(); err != nil || ok {
		t.Fatalf("the older copy's alarm survived the install (%v, %v)", ok, err)
	}
	got, err := readRecord(dst.db, "counter", "big")
	if err != nil || got.v != rec.v || got.promised != rec.promised || !slices.Equal(got.set, rec.set) {
		t.Fatalf("replica record %+v (%v), want %+v", got, err, rec)
	}
	for _, id := range []string{"bif", "bih", "big2"} {
		n, _ := dst.Grain("counter", id)
		if v, err := n.Get("k"); err != nil || string(v) != id {
			t.Fatalf("neighbouring grain %s: %q, %v", id, v, err)
		}
	}
	if files, err := dst.stagedFiles(); err != nil || len(files) != 0 {
		t.Fatalf("staging folder after the install: %v, %v", files, err)
	}
}

// cutConn passes left bytes on, then closes the connection: a sender that
// dies in the middle of a copy.
type cutConn struct {
	net.Conn
	left int
}

func (c *cutConn) Write(p []byte) (int, error) {
	if len(p) <= c.left {
		c.left -= len(p)
		return c.Conn.Write(p)
	}
	n, _ := c.Conn.Write(p[:c.left])
	c.left = 0
	c.Conn.Close()
	return n, errors.New("cut (test)")
}

// TestCutInstallLeavesPreviousCopy: an install whose sender dies after a
// few chunks (its connection cut in the middle of a chunk) leaves the
// follower's previous copy and replica record exactly as they were (what
// its readers, promises and digests see), nothing staged, and the
// sender told of no success; a later install then completes the copy.
func TestCutInstallLeavesPreviousCopy(t *testing.T) {
	tc := newReplicatedCluster(t, "a", "b", "c")
	const id = "cut"
	blobs := make([]string, 10)
	for i := range blobs {
		blobs[i] = largeBlob(i)
	}
	for i := range 6 {
		if _, err := requestVia(tc.nodes["a"], id, &actorsv1.SaveFile{Path: fmt.Sprint(i), Content: blobs[i]}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	ownerName, err := tc.nodes["a"].Owner("counter", id)
	if err != nil {
		t.Fatal(err)
	}
	owner := tc.nodes[ownerName]
	var f *Node
	for name, n := range tc.nodes {
		if name != ownerName {
			f = n
			break
		}
	}
	// Every copy holds the first six values (R = 3).
	testutil.WaitFor(t, 60*time.Second, func() error { return storeHolds(f, id, blobs[:6]) })
	// f misses the next writes: its copy is older than the owner's.
	isF := func(name string) bool { return name == f.Name() }
	owner.repl.unreachable.Store(&isF)
	for i := 6; i < len(blobs); i++ {
		if _, err := requestVia(owner, id, &actorsv1.SaveFile{Path: fmt.Sprint(i), Content: blobs[i]}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	recBefore, err := readRecord(f.store.db, "counter", id)
	if err != nil {
		t.Fatal(err)
	}
	ownerRec, err := readRecord(owner.store.db, "counter", id)
	if err != nil {
		t.Fatal(err)
	}
	if !recBefore.v.less(ownerRec.v) {
		t.Fatalf("%s's copy %v is not older than the owner's %v", f.Name(), recBefore.v, ownerRec.v)
	}

	// The owner's copy (5 MiB) sent to f as an anti-entropy install, cut
	// after 4.25 MiB: eight chunks (a value of 512 KiB has a chunk of its
	// own) and half of a ninth; f gets every byte sent before the cut,
	// and stages the copy on disk past stageSpillBytes (4 MiB), at the
	// eighth value.
	fStats := func() ReplicationStats { st, _ := f.ReplicationStats(); return st }
	before := fStats()
	fm, ok := owner.memberByName(f.Name())
	if !ok {
		t.Fatalf("%s does not see %s", ownerName, f.Name())
	}
	c, err := owner.store.openCopy("counter", id)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, done, err := owner.repl.tr.dialBulk(ctx, fm.ReplAddr)
	if err != nil {
		c.close()
		t.Fatal(err)
	}
	var sendErr error
	if sendErr = b.write(frameInstall, &clusterv1.ReplicaInstall{Snapshot: c.head}); sendErr == nil {
		b.nc = &cutConn{Conn: b.nc, left: 17 << 18}
		sendErr = b.sendCopy(c)
	}
	done()
	c.close()
	if sendErr == nil {
		t.Fatal("the cut copy was sent in full")
	}

	// f is done with the transfer (it counts it once the copy was dropped,
	// or installed or refused), and dropped what it staged; its copy and
	// record are the previous ones.
	testutil.WaitFor(t, 60*time.Second, func() error {
		if st := fStats(); st.CopiesDropped+st.CopiesStaged == before.CopiesDropped+before.CopiesStaged {
			return fmt.Errorf("%s has not ended the cut transfer", f.Name())
		}
		return nil
	})
	if files, err := f.store.stagedFiles(); err != nil || len(files) > 0 {
		t.Fatalf("%s's staging folder after a cut install: %v, %v", f.Name(), files, err)
	}
	recAfter, err := readRecord(f.store.db, "counter", id)
	if err != nil {
		t.Fatal(err)
	}
	if recAfter.v != recBefore.v || recAfter.promised != recBefore.promised || !slices.Equal(recAfter.set, recBefore.set) {
		t.Fatalf("after a cut install %s's record is %+v, was %+v", f.Name(), recAfter, recBefore)
	}
	if err := storeHolds(f, id, blobs[:6]); err != nil {
		t.Fatalf("after a cut install: %v", err)
	}
	gs, _ := f.store.Grain("counter", id)
	for i := 6; i < len(blobs); i++ {
		if v, err := gs.Get("blob/" + fmt.Sprint(i)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after a cut install %s holds value %d of the newer copy (%d bytes, %v)", f.Name(), i, len(v), err)
		}
	}

	if st := fStats(); st.CopiesDropped != before.CopiesDropped+1 {
		t.Fatalf("%s counted %d copies dropped, want %d", f.Name(), st.CopiesDropped, before.CopiesDropped+1)
	}

	// A later install completes the copy.
	owner.repl.unreachable.Store(nil)
	if err := owner.repl.sendInstall(ctx, fm, "counter", id, 0); err != nil {
		t.Fatalf("the later install: %v", err)
	}
	if err := storeHolds(f, id, blobs); err != nil {
		t.Fatalf("after the later install: %v", err)
	}
	if st := fStats(); st.CopiesStaged != before.CopiesStaged+1 {
		t.Fatalf("%s staged %d copies on disk, want %d (the later install's, of 5 MiB)", f.Name(), st.CopiesStaged, before.CopiesStaged+1)
	}
	if rec, err := readRecord(f.store.db, "counter", id); err != nil || rec.v != ownerRec.v {
		t.Fatalf("after the later install %s's record is %+v (%v), want version %v", f.Name(), rec, err, ownerRec.v)
	}
}

// TestRestartDropsStagedCopies: a process killed while it received copies
// (one staged in full and synced, just before its ingest; one in the
// middle of a table) leaves their files in the staging folder; the store
// opened again removes them, and the grain holds its previous copy,
// alarm and replica record.
func TestRestartDropsStagedCopies(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := s.Grain("counter", "staged")
	if err := g.Put("k", []byte("previous")); err != nil {
		t.Fatal(err)
	}
	due := time.Unix(0, time.Now().Add(time.Hour).UnixNano())
	if err := g.SetAlarm(due); err != nil {
		t.Fatal(err)
	}
	rec := replicaRecord{promised: 4, v: version{4, 2}, set: []string{"a", "b", "c"}}
	if err := s.writeRecord("counter", "staged", rec); err != nil {
		t.Fatal(err)
	}
	head := &clusterv1.ReplicaSnapshot{Kind: "counter", Identity: "staged", Version: version{5, 1}.proto()}
	full, err := s.newCopyStage(head)
	if err != nil {
		t.Fatal(err)
	}
	full.spillAt = 0 // staged on disk from its first entry
	for i := range 100 {
		if err := full.add([]byte(fmt.Sprintf("n%03d", i)), []byte("newer")); err != nil {
			t.Fatal(err)
		}
	}
	if err := full.finish(head); err != nil {
		t.Fatal(err)
	}
	if err := full.sync(); err != nil {
		t.Fatal(err)
	}
	half, err := s.newCopyStage(head)
	if err != nil {
		t.Fatal(err)
	}
	half.spillAt = 0
	if err := half.add([]byte("n000"), bytes.Repeat([]byte("x"), 200<<10)); err != nil {
		t.Fatal(err)
	}
	// The process dies: its files stay as they are (open ones closed by
	// the kernel), nothing is removed.
	for _, f := range half.files {
		_ = f.Close()
	}
	if files, err := s.stagedFiles(); err != nil || len(files) < 3 {
		t.Fatalf("staging folder before the restart: %v, %v; want at least 3 files", files, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStore(dir, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if files, err := s.stagedFiles(); err != nil || len(files) != 0 {
		t.Fatalf("staging folder after the restart: %v, %v", files, err)
	}
	g, _ = s.Grain("counter", "staged")
	n := 0
	if err := g.List("", "", 0, func(key string, value []byte) error {
		n++
		if key != "k" || string(value) != "previous" {
			return fmt.Errorf("entry %q=%q of a staged copy", key, value)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("the grain holds %d entries, want its previous 1", n)
	}
	if at, ok, err := g.Alarm(); err != nil || !ok || !at.Equal(due) {
		t.Fatalf("alarm %v %v %v, want %v", at, ok, err, due)
	}
	if got, err := readRecord(s.db, "counter", "staged"); err != nil || got.v != rec.v || got.promised != rec.promised {
		t.Fatalf("record %+v (%v), want %+v", got, err, rec)
	}
}

// TestOlderStoreIsUpgraded: a store written in Pebble's oldest format (as
// every store was before installs ingested tables) opens, keeps its data,
// is upgraded to the format installs need, and takes a staged install.
func TestOlderStoreIsUpgraded(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebble.FormatMostCompatible})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("g\x00counter\x00old\x00k"), []byte("kept"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(dir, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := s.db.FormatMajorVersion(); v < pebble.FormatFlushableIngest {
		t.Fatalf("store format %v, want at least %v", v, pebble.FormatFlushableIngest)
	}
	g, _ := s.Grain("counter", "old")
	if v, err := g.Get("k"); err != nil || string(v) != "kept" {
		t.Fatalf("the older store's value: %q, %v", v, err)
	}
	head := &clusterv1.ReplicaSnapshot{Kind: "counter", Identity: "old", Version: version{1, 1}.proto()}
	c, err := s.newCopyStage(head)
	if err != nil {
		t.Fatal(err)
	}
	c.spillAt = 0
	if err := c.add([]byte("n"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := c.finish(head); err != nil {
		t.Fatal(err)
	}
	if err := s.installSnapshot(head, c, replicaRecord{promised: 1, v: version{1, 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Get("k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the replaced copy's key: %v, want not found", err)
	}
	if v, err := g.Get("n"); err != nil || string(v) != "new" {
		t.Fatalf("the installed copy's key: %q, %v", v, err)
	}
}
