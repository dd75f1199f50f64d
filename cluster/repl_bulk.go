package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// Bulk transfers: whole copies of grains (a new owner's fetch, an owner's
// or anti-entropy's install) travel on connections of their own to the
// replication listener, in bounded chunks, never as one actor-remote
// message (whose gRPC limit is 4 MiB) and never on the write stream (where
// a large copy would hold up every write queued behind it). One
// connection carries one transfer; TCP's flow control is its
// backpressure, and every chunk has a deadline.
//
// Wire format, after the client's 8-byte preamble replBulkMagic, in the
// frames of the write stream (appendFrame):
//
//	fetch:   client frameFetch (ReplicaFetch)
//	         server frameSnapHead (ReplicaSnapshot without entries, or with
//	                error), frameSnapChunk (ReplicaSnapshot with entries
//	                only)..., frameSnapEnd (SnapshotEnd)
//	install: client frameInstall (ReplicaInstall, snapshot without
//	                entries), frameSnapChunk..., frameSnapEnd
//	         server frameWriteReply (ReplicaWriteReply)
//
// A copy larger than maxSnapshotBytes is refused by both ends with an
// error naming its size and the limit (errSnapshotTooLarge).
const (
	replBulkMagic  = "STRB\x00\x00\x00\x01"
	frameFetch     = 3
	frameSnapHead  = 4
	frameSnapChunk = 5
	frameSnapEnd   = 6
	frameInstall   = 7
	// snapshotChunk bounds the entry bytes of one chunk frame.
	snapshotChunk = 1 << 20
	// bigValue is the size from which a value is sent from Pebble's memory
	// in a chunk of its own (sendCopy), not copied into a chunk.
	bigValue = 32 << 10
	// maxSnapshotBytes bounds a whole copy of one grain in transfer (keys
	// and values): a session past it cannot move between nodes, and says
	// so, instead of failing to fetch it forever.
	maxSnapshotBytes = 512 << 20
)

// errSnapshotTooLarge reports a copy of a grain over maxSnapshotBytes.
var errSnapshotTooLarge = errors.New("cluster: grain copy too large to transfer")

func checkSnapshotSize(kind, identity string, size int) error {
	if size > maxSnapshotBytes {
		return fmt.Errorf("%w: %s/%s holds %d bytes, the limit is %d", errSnapshotTooLarge, kind, identity, size, maxSnapshotBytes)
	}
	return nil
}

// bulkConn is one end of a bulk transfer.
type bulkConn struct {
	nc      net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	timeout time.Duration
	buf     []byte // the frame being written
	rbuf    []byte // the last frame read (proto.Unmarshal copies out of it)
}

func newBulkConn(nc net.Conn, br *bufio.Reader, timeout time.Duration) *bulkConn {
	return &bulkConn{nc: nc, br: br, bw: bufio.NewWriterSize(nc, 256<<10), timeout: timeout}
}

func (b *bulkConn) write(typ byte, m proto.Message) error {
	// The message is marshalled into the frame itself: no copy.
	frame, err := proto.MarshalOptions{}.MarshalAppend(append(b.buf[:0], make([]byte, 4+frameHeader)...), m)
	if err != nil {
		return err
	}
	b.buf = frame
	putFrameHeader(frame, typ, 0)
	_ = b.nc.SetWriteDeadline(time.Now().Add(b.timeout))
	_, err = b.bw.Write(frame)
	return err
}

func (b *bulkConn) flush() error {
	_ = b.nc.SetWriteDeadline(time.Now().Add(b.timeout))
	return b.bw.Flush()
}

func (b *bulkConn) read(want byte, m proto.Message) error {
	_ = b.nc.SetReadDeadline(time.Now().Add(b.timeout))
	typ, _, payload, err := readFrame(b.br, b.rbuf)
	if err != nil {
		return err
	}
	b.rbuf = payload[:0]
	if typ != want {
		return fmt.Errorf("bulk transfer: frame type %d, want %d", typ, want)
	}
	return proto.Unmarshal(payload, m)
}

// sendCopy writes the entries of a local copy as chunks, then the end
// frame. Each chunk is a ReplicaSnapshot holding only entries (field 4).
// Small entries are encoded straight from Pebble's memory into a chunk of
// up to snapshotChunk bytes; a value of bigValue bytes or more is never
// copied: it gets a chunk frame of its own whose encoded header (with
// any small chunk pending before it) and the value itself, in Pebble's
// memory, go to the socket in one vectored write.
func (b *bulkConn) sendCopy(c *localCopy) error {
	// The head goes out first: the receiver starts its stage meanwhile.
	if err := b.flush(); err != nil {
		return err
	}
	header := 4 + frameHeader
	out := b.buf[:0]  // chunk frames ready to send, then the chunk being filled
	chunk := len(out) // where the chunk being filled starts in out
	out = append(out, make([]byte, header)...)
	total, size, inChunk := 0, 0, 0
	// closeChunk ends the chunk being filled (dropping its header if it
	// holds no entry) and starts a new one.
	closeChunk := func() {
		if inChunk == 0 {
			out = out[:chunk]
		} else {
			putFrameHeader(out[chunk:], frameSnapChunk, 0)
		}
		inChunk = 0
	}
	send := func(value []byte) error {
		_ = b.nc.SetWriteDeadline(time.Now().Add(b.timeout))
		var err error
		if value == nil {
			_, err = b.nc.Write(out)
		} else {
			bufs := net.Buffers{out, value}
			_, err = bufs.WriteTo(b.nc)
		}
		out = out[:0]
		return err
	}
	err := c.entries(func(key, value []byte) error {
		size += len(key) + len(value)
		if err := checkSnapshotSize(c.gs.kind, c.gs.identity, size); err != nil {
			return err
		}
		entry := protowire.SizeTag(1) + protowire.SizeBytes(len(key)) + protowire.SizeTag(2) + protowire.SizeBytes(len(value))
		big := len(value) >= bigValue
		if big {
			closeChunk()
			chunk = len(out)
			out = append(out, make([]byte, header)...)
		}
		out = protowire.AppendTag(out, 4, protowire.BytesType)
		out = protowire.AppendVarint(out, uint64(entry))
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, key)
		out = protowire.AppendTag(out, 2, protowire.BytesType)
		total++
		if big {
			out = protowire.AppendVarint(out, uint64(len(value)))
			frame := out[chunk:]
			binary.BigEndian.PutUint32(frame, uint32(len(frame)-4+len(value)))
			frame[4] = frameSnapChunk
			binary.BigEndian.PutUint64(frame[5:], 0)
			if err := send(value); err != nil {
				return err
			}
			chunk, inChunk = 0, 0
			out = append(out, make([]byte, header)...)
			return nil
		}
		out = protowire.AppendBytes(out, value)
		inChunk++
		if len(out)-chunk >= snapshotChunk {
			closeChunk()
			if err := send(nil); err != nil {
				return err
			}
			chunk = 0
			out = append(out, make([]byte, header)...)
		}
		return nil
	})
	if err == nil {
		closeChunk()
		var end []byte
		if end, err = proto.Marshal(&clusterv1.SnapshotEnd{Entries: uint64(total)}); err == nil {
			out = appendFrame(out, frameSnapEnd, 0, end)
		}
	}
	if err == nil {
		err = send(nil)
	}
	b.buf = out[:0]
	return err
}

// readCopy reads the chunks of the copy whose head is snap, until the end
// frame, into a new stage of the local store: each chunk's entries go to
// the stage (replica_install.go) as the chunk arrives (readChunk). On an
// error the stage is dropped (its files removed).
func (b *bulkConn) readCopy(s *Store, snap *clusterv1.ReplicaSnapshot) (*copyStage, error) {
	c, err := s.newCopyStage(snap)
	if err != nil {
		return nil, err
	}
	if err := b.readEntries(c); err != nil {
		c.close()
		return nil, err
	}
	if err := c.finish(snap); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// received counts a copy received here (in full or not) in the stats.
func (t *replTransport) received(staged bool, err error) {
	switch {
	case err != nil:
		t.r.stats.copiesDropped.Add(1)
	case staged:
		t.r.stats.copiesStaged.Add(1)
	}
}

func (b *bulkConn) readEntries(c *copyStage) error {
	for {
		_ = b.nc.SetReadDeadline(time.Now().Add(b.timeout))
		typ, size, err := readFrameHeader(b.br)
		if err != nil {
			return err
		}
		if typ == frameSnapChunk {
			if err := readChunk(b.br, size, c); err != nil {
				if errors.Is(err, errSnapshotTooLarge) || errors.Is(err, ErrBadName) {
					return err
				}
				return fmt.Errorf("bulk transfer: chunk: %w", err)
			}
			continue
		}
		if cap(b.rbuf) < size {
			b.rbuf = make([]byte, size)
		}
		payload := b.rbuf[:size]
		if _, err := io.ReadFull(b.br, payload); err != nil {
			return fmt.Errorf("bulk transfer: %w", err)
		}
		if typ != frameSnapEnd {
			return fmt.Errorf("bulk transfer: frame type %d in a copy", typ)
		}
		end := &clusterv1.SnapshotEnd{}
		if err := proto.Unmarshal(payload, end); err != nil {
			return fmt.Errorf("bulk transfer: decode end: %w", err)
		}
		if end.GetEntries() != uint64(c.entries) {
			return fmt.Errorf("bulk transfer: %d entries received, %d sent", c.entries, end.GetEntries())
		}
		return nil
	}
}

// readFrameHeader reads the header of a frame and returns its type and
// payload size.
func readFrameHeader(r *bufio.Reader) (typ byte, size int, err error) {
	var hdr [4 + frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, err
	}
	n := binary.BigEndian.Uint32(hdr[0:])
	if n < frameHeader || n > maxReplFrame {
		return 0, 0, fmt.Errorf("replication frame of %d bytes (limit %d)", n, maxReplFrame)
	}
	return hdr[4], int(n) - frameHeader, nil
}

// Tags of a chunk's entries, as sendCopy writes them: field 4 of
// ReplicaSnapshot (an Entry), whose field 1 (key) precedes field 2
// (value).
const (
	tagEntry = 4<<3 | 2
	tagKey   = 1<<3 | 2
	tagValue = 2<<3 | 2
)

// readChunk reads the n bytes of a chunk frame's payload from r, entry by
// entry, into c: each value is read into one buffer of the stage's,
// reused, and added to its table. It accepts the entries in sendCopy's
// layout only (key, then value, both present) and fails on anything
// else, or on an entry that overruns the frame.
func readChunk(r *bufio.Reader, n int, c *copyStage) error {
	var key [maxNameLen]byte
	for n > 0 {
		tag, err := readVarint(r, &n)
		if err != nil {
			return err
		}
		entry, err := readVarint(r, &n)
		if err != nil {
			return err
		}
		if tag != tagEntry || entry > uint64(n) {
			return errors.New("not an entry")
		}
		tag, err = readVarint(r, &n)
		if err != nil {
			return err
		}
		keyLen, err := readVarint(r, &n)
		if err != nil {
			return err
		}
		if tag != tagKey || keyLen == 0 || keyLen > maxNameLen || keyLen > uint64(n) {
			return fmt.Errorf("entry key of %d bytes: %w", keyLen, ErrBadName)
		}
		k := key[:keyLen]
		if _, err := io.ReadFull(r, k); err != nil {
			return err
		}
		n -= len(k)
		tag, err = readVarint(r, &n)
		if err != nil {
			return err
		}
		valLen, err := readVarint(r, &n)
		if err != nil {
			return err
		}
		if tag != tagValue || valLen > uint64(n) {
			return errors.New("bad entry value")
		}
		if entry != uint64(protowire.SizeTag(1)+protowire.SizeBytes(len(k))+protowire.SizeTag(2)+protowire.SizeBytes(int(valLen))) {
			return errors.New("entry length does not match its fields")
		}
		if err := checkSnapshotSize(c.gs.kind, c.gs.identity, c.size+len(k)+int(valLen)); err != nil {
			return err
		}
		if cap(c.val) < int(valLen) {
			c.val = make([]byte, valLen)
		}
		v := c.val[:valLen]
		if _, err := io.ReadFull(r, v); err != nil {
			return err
		}
		n -= int(valLen)
		if err := c.add(k, v); err != nil {
			return err
		}
	}
	return nil
}

// readVarint reads a varint of at most 10 bytes from r and takes its
// length from *n, failing if it overruns *n.
func readVarint(r *bufio.Reader, n *int) (uint64, error) {
	var v uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if *n <= 0 {
			return 0, errors.New("entry overruns its frame")
		}
		c, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		*n--
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint overflow")
}

// serveBulk serves one bulk transfer on an accepted connection (its
// preamble read).
func (t *replTransport) serveBulk(c net.Conn, br *bufio.Reader) error {
	b := newBulkConn(c, br, t.replyTimeout)
	_ = c.SetReadDeadline(time.Now().Add(t.replyTimeout))
	typ, _, payload, err := readFrame(br, nil)
	if err != nil {
		return err
	}
	switch typ {
	case frameFetch:
		m := &clusterv1.ReplicaFetch{}
		if err := proto.Unmarshal(payload, m); err != nil {
			return fmt.Errorf("decode fetch: %w", err)
		}
		c, err := t.r.n.store.openCopy(m.GetKind(), m.GetIdentity())
		if err != nil {
			if err := b.write(frameSnapHead, &clusterv1.ReplicaSnapshot{Error: routeErrorFromGo(err)}); err != nil {
				return err
			}
			return b.flush()
		}
		defer c.close()
		if err := b.write(frameSnapHead, c.head); err != nil {
			return err
		}
		// NB: a copy over the limit ends the stream; the fetcher's own
		// check names the size and limit.
		return b.sendCopy(c)
	case frameInstall:
		m := &clusterv1.ReplicaInstall{}
		if err := proto.Unmarshal(payload, m); err != nil {
			return fmt.Errorf("decode install: %w", err)
		}
		if m.GetSnapshot() == nil {
			return errors.New("install without a snapshot")
		}
		var rep *clusterv1.ReplicaWriteReply
		body, err := b.readCopy(t.r.n.store, m.Snapshot)
		if err != nil {
			t.received(false, err)
			if !errors.Is(err, errSnapshotTooLarge) && !errors.Is(err, ErrBadName) {
				return err
			}
			rep = &clusterv1.ReplicaWriteReply{Error: routeErrorFromGo(err)}
		} else {
			// Counted once installed (or refused): a test waits for it.
			staged := body.staged()
			rep = t.r.serveInstall(m, body)
			t.received(staged, nil)
		}
		if err := b.write(frameWriteReply, rep); err != nil {
			return err
		}
		return b.flush()
	}
	return fmt.Errorf("unexpected bulk frame type %d", typ)
}

// dialBulk opens a bulk transfer connection to addr.
func (t *replTransport) dialBulk(ctx context.Context, addr string) (*bulkConn, func(), error) {
	if addr == "" {
		return nil, nil, errors.New("cluster: the member advertises no replication address")
	}
	nc, err := t.dialRaw(ctx, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: bulk transfer to %s: %w", addr, err)
	}
	// The context ends the transfer: closing the connection fails any
	// blocked read or write at once.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	// A small read buffer: a large value is read from the socket straight
	// into the stage's value buffer (readChunk), past what the buffer
	// already holds.
	b := newBulkConn(nc, bufio.NewReaderSize(nc, 32<<10), t.replyTimeout)
	if _, err := b.bw.WriteString(replBulkMagic); err != nil {
		stop()
		nc.Close()
		return nil, nil, err
	}
	return b, func() { stop(); nc.Close() }, nil
}

// fetchSnapshot fetches m's whole copy of a grain: its head, and its
// entries staged in the local store, not yet installed (the caller
// installs or closes it).
func (t *replTransport) fetchSnapshot(ctx context.Context, m NodeMeta, kind, identity string) (*clusterv1.ReplicaSnapshot, *copyStage, error) {
	b, done, err := t.dialBulk(ctx, m.ReplAddr)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	if err := b.write(frameFetch, &clusterv1.ReplicaFetch{Kind: kind, Identity: identity}); err != nil {
		return nil, nil, fmt.Errorf("cluster: fetch %s/%s from %s: %w", kind, identity, m.Name, err)
	}
	if err := b.flush(); err != nil {
		return nil, nil, fmt.Errorf("cluster: fetch %s/%s from %s: %w", kind, identity, m.Name, err)
	}
	snap := &clusterv1.ReplicaSnapshot{}
	if err := b.read(frameSnapHead, snap); err != nil {
		return nil, nil, fmt.Errorf("cluster: fetch %s/%s from %s: %w", kind, identity, m.Name, err)
	}
	if e := snap.GetError(); e != nil {
		return nil, nil, fmt.Errorf("cluster: fetch %s/%s from %s: %s", kind, identity, m.Name, e.GetMessage())
	}
	if snap.GetKind() != kind || snap.GetIdentity() != identity {
		return nil, nil, fmt.Errorf("cluster: fetch %s/%s from %s: got a copy of %s/%s", kind, identity, m.Name, snap.GetKind(), snap.GetIdentity())
	}
	body, err := b.readCopy(t.r.n.store, snap)
	t.received(err == nil && body.staged(), err)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: fetch %s/%s from %s: %w", kind, identity, m.Name, err)
	}
	return snap, body, nil
}

// installCopy sends this node's copy of a grain to m as an install
// under epoch and returns m's answer.
func (t *replTransport) installCopy(ctx context.Context, m NodeMeta, kind, identity string, epoch uint64) (*clusterv1.ReplicaWriteReply, error) {
	c, err := t.r.n.store.openCopy(kind, identity)
	if err != nil {
		return nil, err
	}
	defer c.close()
	b, done, err := t.dialBulk(ctx, m.ReplAddr)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := b.write(frameInstall, &clusterv1.ReplicaInstall{Snapshot: c.head, Epoch: epoch}); err != nil {
		return nil, err
	}
	if err := b.sendCopy(c); err != nil {
		return nil, fmt.Errorf("cluster: install %s/%s on %s: %w", kind, identity, m.Name, err)
	}
	rep := &clusterv1.ReplicaWriteReply{}
	if err := b.read(frameWriteReply, rep); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("cluster: install %s/%s on %s: %w", kind, identity, m.Name, err)
	}
	return rep, nil
}
