package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"

	"google.golang.org/protobuf/proto"

	actorsv1 "github.com/stichdev/stich/proto/stich/actors/v1"
	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// BenchmarkSnapshotTransfer fetches the whole copy of a 20 MiB grain from
// another node over a bulk transfer connection (read from Pebble, sent in
// chunks, decoded: what a new owner does), against a raw TCP copy of the
// same number of bytes on loopback. Target (internal/benchratio): stich at
// most 2x the reference's time, i.e. at least 0.5x its throughput.
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
	b.Run("stich", func(b *testing.B) {
		b.SetBytes(int64(size))
		for b.Loop() {
			snap, err := a.repl.tr.fetchSnapshot(context.Background(), peer, "counter", id)
			if err != nil {
				b.Fatal(err)
			}
			if got := snapshotSize(snap); got < size {
				b.Fatalf("fetched %d bytes of %d", got, size)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
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
		buf := make([]byte, size)
		b.SetBytes(int64(size))
		for b.Loop() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
}

// snapshotSize is the size of a snapshot's keys and values.
func snapshotSize(snap *clusterv1.ReplicaSnapshot) int {
	size := 0
	for _, e := range snap.GetEntries() {
		size += len(e.GetKey()) + len(e.GetValue())
	}
	return size
}

// FuzzDecodeChunk: a peer's chunk bytes never panic the decoder, and a
// chunk it accepts decodes to entries that encode back to the same count.
func FuzzDecodeChunk(f *testing.F) {
	good, _ := proto.Marshal(&clusterv1.ReplicaSnapshot{Entries: []*clusterv1.Entry{{Key: "k", Value: []byte("v")}, {Key: "", Value: nil}}})
	f.Add(good)
	f.Add([]byte{0x22, 0xff})
	f.Add([]byte{0x0a, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, payload []byte) {
		entries, err := decodeChunk(nil, payload)
		if err != nil {
			return
		}
		var snap clusterv1.ReplicaSnapshot
		if err := proto.Unmarshal(payload, &snap); err == nil && len(snap.GetEntries()) != len(entries) {
			t.Fatalf("decodeChunk found %d entries, proto.Unmarshal %d", len(entries), len(snap.GetEntries()))
		}
	})
}
