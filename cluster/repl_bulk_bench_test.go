package cluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// BenchmarkSnapshotTransfer fetches the whole copy of a 20 MiB grain from
// another node over a bulk transfer connection (read from Pebble, sent in
// chunks, staged on disk in the sstables that install it: what a new
// owner does before its ingest, replica_install.go), against a raw TCP
// copy of the same number of bytes on loopback (a new connection each
// time, as a fetch dials). The fetch writes the copy to files (the page
// cache; they are synced at the install), the reference only to memory.
//
// The reference receives into a new buffer each time, as a fetch received
// into a new batch before copies were staged on disk (it writes new page
// cache pages now): a receiver keeps the bytes it copies, and the page
// faults and garbage collection of 20 MiB of new memory cost as much as
// the copy itself on this machine (a copy into one buffer used again and
// again costs a fifth of the CPU time). A copy into a reused buffer runs
// too, and its ratio is reported as reused-x (no target).
//
// The variants alternate, one of each per iteration, so that a change of
// the machine's load touches all; it reports the median MB/s of each and
// the ratio, throughput-x (target, internal/benchratio: at least 0.5).
// "installed" also installs the copy (synced, ingested) on the fetching
// node, as a claim does; it has no target (the reference writes nothing).
func BenchmarkSnapshotTransfer(b *testing.B) {
	tc := newReplicatedCluster(b, "a", "b", "c")
	const id = "large"
	size := 0
	for i := range largeBlobs {
		blob := largeBlob(i)
		size += len(blob)
		if _, err := requestVia(tc.nodes["a"], id, &actorsv1.SaveFile{Path: fmt.Sprint(i), Content: blob}); err != nil {
			b.Fatal(err)
		}
	}
	a := tc.nodes["a"]
	peer, ok := a.memberByName("b")
	if !ok {
		b.Fatal("a does not see b")
	}
	fetch := func(b *testing.B) (*clusterv1.ReplicaSnapshot, *copyStage) {
		snap, body, err := a.repl.tr.fetchSnapshot(context.Background(), peer, "counter", id)
		if err != nil {
			b.Fatal(err)
		}
		if body.size < size {
			b.Fatalf("fetched %d bytes of %d", body.size, size)
		}
		return snap, body
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	payload := make([]byte, size)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write(payload)
			c.Close()
		}
	}()
	reused := make([]byte, size)
	rawCopy := func(b *testing.B, buf []byte) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	mbps := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(size) / ds[len(ds)/2].Seconds() / 1e6
	}
	// The steady state: the copy's writes flushed (not a compaction of
	// them racing the first fetches), and a few untimed rounds.
	for _, n := range tc.nodes {
		if err := n.store.db.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	for range 3 {
		_, body := fetch(b)
		body.close()
		rawCopy(b, make([]byte, size))
		rawCopy(b, reused)
	}
	b.Run("interleaved", func(b *testing.B) {
		var st, ref, ru []time.Duration
		b.SetBytes(int64(3 * size))
		for b.Loop() {
			start := time.Now()
			_, body := fetch(b)
			body.close()
			st = append(st, time.Since(start))
			start = time.Now()
			rawCopy(b, make([]byte, size))
			ref = append(ref, time.Since(start))
			start = time.Now()
			rawCopy(b, reused)
			ru = append(ru, time.Since(start))
		}
		s, r, u := mbps(st), mbps(ref), mbps(ru)
		b.ReportMetric(s, "stich-MB/s")
		b.ReportMetric(r, "reference-MB/s")
		b.ReportMetric(s/r, "throughput-x")
		b.ReportMetric(u, "reused-MB/s")
		b.ReportMetric(s/u, "reused-x")
	})
	b.Run("installed", func(b *testing.B) {
		b.SetBytes(int64(size))
		for b.Loop() {
			snap, body := fetch(b)
			unlock := a.repl.locks.lock(grainKey("counter", id))
			rec, err := readRecord(a.store.db, "counter", id)
			if err == nil {
				err = a.store.installSnapshot(snap, body, rec)
			}
			unlock()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzReadChunk: a peer's chunk bytes never panic the reader, and a chunk
// it accepts (that proto.Unmarshal accepts too) holds as many entries as
// proto.Unmarshal finds, with the same keys and values.
func FuzzReadChunk(f *testing.F) {
	good, _ := proto.Marshal(&clusterv1.ReplicaSnapshot{Entries: []*clusterv1.Entry{{Key: "k", Value: []byte("v")}, {Key: "k2", Value: nil}}})
	f.Add(good)
	f.Add([]byte{0x22, 0xff})
	f.Add([]byte{0x0a, 0x01, 'x'})
	f.Add([]byte{0x22, 0x04, 0x0a, 0x00, 0x12, 0x00})
	s, err := OpenStore("", StoreOptions{InMemory: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, payload []byte) {
		head := &clusterv1.ReplicaSnapshot{Kind: "counter", Identity: "fuzz"}
		c, err := s.newCopyStage(head)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		if err := readChunk(bufio.NewReader(bytes.NewReader(payload)), len(payload), c); err != nil {
			return
		}
		var snap clusterv1.ReplicaSnapshot
		if err := proto.Unmarshal(payload, &snap); err != nil {
			return // a key that is not UTF-8: Pebble keys are bytes
		}
		if len(snap.GetEntries()) != c.entries {
			t.Fatalf("readChunk found %d entries, proto.Unmarshal %d", c.entries, len(snap.GetEntries()))
		}
		// The staged copy, installed, holds exactly those entries.
		if err := c.finish(head); err != nil {
			t.Fatal(err)
		}
		if err := s.installSnapshot(head, c, replicaRecord{}); err != nil {
			t.Fatal(err)
		}
		gs, _ := s.Grain("counter", "fuzz")
		i := 0
		if err := gs.List("", "", 0, func(key string, value []byte) error {
			if i >= len(snap.GetEntries()) {
				return fmt.Errorf("installed entry %q past the %d sent", key, len(snap.GetEntries()))
			}
			e := snap.GetEntries()[i]
			if key != e.GetKey() || !bytes.Equal(value, e.GetValue()) {
				return fmt.Errorf("entry %d: %q=%q, want %q=%q", i, key, value, e.GetKey(), e.GetValue())
			}
			i++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if i != len(snap.GetEntries()) {
			t.Fatalf("installed %d entries, sent %d", i, len(snap.GetEntries()))
		}
	})
}
