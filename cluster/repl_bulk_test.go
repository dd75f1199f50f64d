package cluster

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// TestBulkCopyRoundTrip sends a local copy whose entries mix small values
// (batched into chunks, past snapshotChunk), empty ones and values of
// bigValue bytes and more (sent from Pebble's memory in chunks of their
// own), in every order, over loopback TCP, and checks that the receiver's
// installed copy holds exactly those entries.
func TestBulkCopyRoundTrip(t *testing.T) {
	src, err := OpenStore("", StoreOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := OpenStore("", StoreOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	g, err := src.Grain("counter", "mixed")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	put := func(key string, n int) {
		v := bytes.Repeat([]byte{byte(len(want))}, n)
		if err := g.Put(key, v); err != nil {
			t.Fatal(err)
		}
		want[key] = v
	}
	put("a0-big-first", bigValue+1)
	put("a1-small", 10)
	put("a2-empty", 0)
	put("a3-big-exact", bigValue)
	put("a4-big-next", 3*bigValue)
	put("a5-just-under", bigValue-1)
	for i := range 3000 { // about 3 chunks of small values
		put(fmt.Sprintf("b%05d", i), 1000)
	}
	put("c0-big-after-many", 600<<10)
	put("c1-small", 5)
	put("c2-big-last", 2*bigValue)

	c, err := src.openCopy("counter", "mixed")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sent := make(chan error, 1)
	var sender sync.WaitGroup
	// On a failure, the sender ends (its connection closed) before the
	// copy it reads is closed.
	defer func() { ln.Close(); sender.Wait() }()
	sender.Add(1)
	go func() {
		defer sender.Done()
		nc, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(time.Minute))
		b := newBulkConn(nc, bufio.NewReader(nc), time.Minute)
		if err := b.write(frameSnapHead, c.head); err != nil {
			sent <- err
			return
		}
		sent <- b.sendCopy(c)
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	b := newBulkConn(nc, bufio.NewReaderSize(nc, 32<<10), time.Minute)
	head := &clusterv1.ReplicaSnapshot{}
	if err := b.read(frameSnapHead, head); err != nil {
		t.Fatal(err)
	}
	body, err := b.readCopy(dst, head)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if body.entries != len(want) {
		t.Fatalf("received %d entries, sent %d", body.entries, len(want))
	}
	if err := dst.installSnapshot(head, body, replicaRecord{}); err != nil {
		t.Fatal(err)
	}
	dg, err := dst.Grain("counter", "mixed")
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	if err := dg.List("", "", 0, func(key string, value []byte) error {
		got++
		if w, ok := want[key]; !ok || !bytes.Equal(w, value) {
			return fmt.Errorf("entry %q: %d bytes, want %d (sent: %v)", key, len(value), len(w), ok)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Fatalf("installed copy holds %d entries, want %d", got, len(want))
	}
}
