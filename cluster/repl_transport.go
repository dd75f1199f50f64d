package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	clusterv1 "github.com/stichdev/stich/proto/stich/cluster/v1"
)

// The replication transport carries the write path of docs/replication.md
// (ReplicaWrite and its reply) on TCP streams of its own, one per pair of
// nodes and direction, instead of through the actor remote. Measured on
// loopback, an actor-remote round trip added ~0.6 ms to a replicated
// write and queued for milliseconds under 32 writers; a framed stream adds
// one loopback round trip, and lets the follower apply every write that
// arrived together in one synced Pebble commit (group commit across
// grains, with no timer: whatever queued during the last sync goes into
// the next).
//
// Whole copies of grains (fetches and installs) go on bulk transfer
// connections to the same listener (repl_bulk.go). Promises and digests
// are small and rare, and stay on the actor remote. Like the actor remote, the stream is plaintext and trusts the
// cluster network.
//
// Wire format, after the client's 8-byte preamble replMagic:
//
//	frame = length uint32 (of what follows) | type byte | id uint64 | protobuf
//
// Frames are big-endian. The client sends frameWrite (ReplicaWrite) and
// the server answers each with a frameWriteReply (ReplicaWriteReply) of
// the same id, in order.
const (
	replMagic       = "STRP\x00\x00\x00\x01"
	frameWrite      = 1
	frameWriteReply = 2
	frameHeader     = 1 + 8
	// maxReplFrame bounds one frame: a grain's batch is far smaller, and a
	// peer announcing more is not a stich node.
	maxReplFrame = 64 << 20
	// maxWriteGroup bounds how many writes one follower commit takes.
	maxWriteGroup = 512
	// replDialBackoff is how long a peer that refused a connection is not
	// dialled again: writes to it fail at once meanwhile, rather than each
	// waiting for a dial.
	replDialBackoff = 500 * time.Millisecond
)

// errReplClosed reports a write on a connection or transport that closed.
var errReplClosed = errors.New("cluster: replication stream closed")

// replTransport is a node's end of the replication streams: a listener
// for its peers' writes and a client connection to each peer it writes
// to.
type replTransport struct {
	r   *replicator
	ln  net.Listener
	log *slog.Logger
	// replyTimeout is how long a stream may leave a write unanswered
	// before it is failed (replicaTimeout; shorter in tests).
	replyTimeout time.Duration

	mu       sync.Mutex
	closed   bool
	peers    map[string]*replPeer  // client side, by address
	accepted map[net.Conn]struct{} // server side
	wg       sync.WaitGroup
}

// listenRepl opens the replication listener on addr (host:port; port 0
// picks a free one). Serving starts with start.
func listenRepl(r *replicator, addr string, log *slog.Logger) (*replTransport, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: replication listener on %s: %w", addr, err)
	}
	if r.n.cfg.TLS != nil {
		ln = tls.NewListener(ln, r.n.cfg.TLS.ServerConfig())
	}
	return &replTransport{r: r, ln: ln, log: log, replyTimeout: replicaTimeout, peers: map[string]*replPeer{}, accepted: map[net.Conn]struct{}{}}, nil
}

// addr returns the listener's address.
func (t *replTransport) addr() string { return t.ln.Addr().String() }

// start accepts peers' streams until close.
func (t *replTransport) start() {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		for {
			c, err := t.ln.Accept()
			if err != nil {
				return // closed
			}
			if !t.track(c) {
				c.Close()
				return
			}
			t.wg.Add(1)
			go func() {
				defer t.wg.Done()
				defer t.untrack(c)
				if err := t.serveConn(c); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
					t.log.Warn("replication stream from peer ended", "peer", c.RemoteAddr().String(), "err", err)
				}
			}()
		}
	}()
}

func (t *replTransport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.accepted[c] = struct{}{}
	return true
}

func (t *replTransport) untrack(c net.Conn) {
	c.Close()
	t.mu.Lock()
	delete(t.accepted, c)
	t.mu.Unlock()
}

// close stops accepting, closes every stream (pending writes fail) and
// waits for the transport's goroutines. Idempotent.
func (t *replTransport) close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.wg.Wait()
		return
	}
	t.closed = true
	t.ln.Close()
	for c := range t.accepted {
		c.Close()
	}
	peers := t.peers
	t.peers = map[string]*replPeer{}
	t.mu.Unlock()
	for _, p := range peers {
		p.close()
	}
	t.wg.Wait()
}

// serveConn applies the writes of one peer's stream: it reads every frame
// that has arrived, applies them in one group, answers them, and repeats.
func (t *replTransport) serveConn(c net.Conn) error {
	br := bufio.NewReaderSize(c, 64<<10)
	var magic [len(replMagic)]byte
	// A peer that connects and says nothing does not hold a goroutine.
	_ = c.SetReadDeadline(time.Now().Add(t.replyTimeout))
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return fmt.Errorf("read preamble: %w", err)
	}
	if string(magic[:]) == replBulkMagic {
		return t.serveBulk(c, br) // a whole copy of a grain (repl_bulk.go)
	}
	if string(magic[:]) != replMagic {
		return fmt.Errorf("not a stich replication stream (preamble %q)", magic[:])
	}
	_ = c.SetReadDeadline(time.Time{}) // idle streams stay; TCP keep-alive finds dead peers
	var (
		ids    []uint64
		writes []*clusterv1.ReplicaWrite
		buf    []byte
		out    []byte // the group's replies, written at once
	)
	for {
		ids, writes = ids[:0], writes[:0]
		for len(writes) == 0 || (br.Buffered() > 0 && len(writes) < maxWriteGroup) {
			typ, id, payload, err := readFrame(br, buf)
			if err != nil {
				return err
			}
			buf = payload[:0]
			if typ != frameWrite {
				return fmt.Errorf("unexpected frame type %d", typ)
			}
			m := &clusterv1.ReplicaWrite{}
			if err := proto.Unmarshal(payload, m); err != nil {
				return fmt.Errorf("decode write: %w", err)
			}
			ids, writes = append(ids, id), append(writes, m)
		}
		out = out[:0]
		for i, rep := range t.r.serveWrites(writes) {
			payload, err := proto.Marshal(rep)
			if err != nil {
				return fmt.Errorf("encode reply: %w", err)
			}
			out = appendFrame(out, frameWriteReply, ids[i], payload)
		}
		if _, err := c.Write(out); err != nil {
			return err
		}
	}
}

// replReply is a follower's answer to one write, or why there is none.
type replReply struct {
	idx int // the caller's tag
	rep *clusterv1.ReplicaWriteReply
	err error
}

// send queues one marshalled ReplicaWrite to the member at addr, dialling
// it first (off the caller's goroutine) if there is no stream yet. Its
// reply arrives on results tagged idx, at most once; results must have
// room for it, since the transport never blocks on it. send itself never
// blocks on the network.
func (t *replTransport) send(addr string, write []byte, idx int, results chan<- replReply) {
	if addr == "" {
		results <- replReply{idx: idx, err: errors.New("cluster: the member advertises no replication address")}
		return
	}
	p, err := t.peer(addr)
	if err != nil {
		results <- replReply{idx: idx, err: err}
		return
	}
	p.send(write, idx, results)
}

// prune closes the streams to addresses no live member has (members that
// left, or came back on another port).
func (t *replTransport) prune(live []NodeMeta) {
	keep := make(map[string]bool, len(live))
	for _, m := range live {
		keep[m.ReplAddr] = true
	}
	var gone []*replPeer
	t.mu.Lock()
	for addr, p := range t.peers {
		if !keep[addr] {
			gone = append(gone, p)
			delete(t.peers, addr)
		}
	}
	t.mu.Unlock()
	for _, p := range gone {
		p.close()
	}
}

func (t *replTransport) peer(addr string) (*replPeer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errReplClosed
	}
	p := t.peers[addr]
	if p == nil {
		p = &replPeer{t: t, addr: addr}
		t.peers[addr] = p
	}
	return p, nil
}

// replPeer is the client side towards one member: at most one live
// stream, dialled on demand, redialled after it fails. Writes sent while
// it dials wait in order and go first on the new stream, so one grain's
// writes never overtake each other.
type replPeer struct {
	t    *replTransport
	addr string

	mu      sync.Mutex
	cur     *replConn
	dialing bool
	waiting []queuedSend // sent while dialling, in order
	// waitingBytes bounds waiting (maxReplBacklog, as a stream's output).
	waitingBytes int
	downUntil    time.Time // the last dial failed: fail fast until then
	dialErr      error
	closed       bool
}

type queuedSend struct {
	write   []byte
	idx     int
	results chan<- replReply
}

func (p *replPeer) send(write []byte, idx int, results chan<- replReply) {
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		results <- replReply{idx: idx, err: errReplClosed}
		return
	case p.cur != nil && !p.cur.isClosed():
		c := p.cur
		p.mu.Unlock()
		c.send(write, idx, results)
		return
	case p.dialing:
		if p.waitingBytes+len(write) > maxReplBacklog {
			p.mu.Unlock()
			results <- replReply{idx: idx, err: fmt.Errorf("cluster: replication stream to %s: %d writes (%d bytes) wait for it to connect", p.addr, len(p.waiting), p.waitingBytes)}
			return
		}
		p.waiting = append(p.waiting, queuedSend{write, idx, results})
		p.waitingBytes += len(write)
		p.mu.Unlock()
		return
	case time.Now().Before(p.downUntil):
		err := p.dialErr
		p.mu.Unlock()
		results <- replReply{idx: idx, err: err}
		return
	}
	p.dialing = true
	p.waiting = append(p.waiting, queuedSend{write, idx, results})
	p.waitingBytes = len(write)
	p.mu.Unlock()
	if !p.t.r.spawn(p.connect) {
		p.fail(errReplClosed)
	}
}

// connect dials the peer and hands it the writes that waited.
func (p *replPeer) connect() {
	ctx, cancel := context.WithTimeout(p.t.r.ctx, p.t.replyTimeout)
	defer cancel()
	c, err := p.dial(ctx)
	if err != nil {
		p.mu.Lock()
		p.downUntil, p.dialErr = time.Now().Add(replDialBackoff), err
		p.mu.Unlock()
		p.fail(err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dialing = false
	if p.closed {
		c.close(errReplClosed)
	} else {
		p.cur = c
	}
	for _, w := range p.waiting {
		c.send(w.write, w.idx, w.results) // NB: fails them if c closed
	}
	p.waiting, p.waitingBytes = nil, 0
}

// fail ends a dial that did not connect: the writes that waited fail.
func (p *replPeer) fail(err error) {
	p.mu.Lock()
	waiting := p.waiting
	p.waiting, p.waitingBytes, p.dialing = nil, 0, false
	p.mu.Unlock()
	for _, w := range waiting {
		w.results <- replReply{idx: w.idx, err: err}
	}
}

// dialRaw opens a connection to a member's replication listener: the
// write stream's and bulk transfers' one way to dial, over mutual TLS when
// the cluster has it.
func (t *replTransport) dialRaw(ctx context.Context, addr string) (net.Conn, error) {
	if cfg := t.r.n.cfg.TLS; cfg != nil {
		d := &tls.Dialer{Config: cfg.ClientConfig()}
		return d.DialContext(ctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func (p *replPeer) dial(ctx context.Context) (*replConn, error) {
	nc, err := p.t.dialRaw(ctx, p.addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: replication stream to %s: %w", p.addr, err)
	}
	c := &replConn{nc: nc, peer: p.addr, replyTimeout: p.t.replyTimeout, failures: &p.t.r.stats.streamFailures, pending: map[uint64]pendingReply{}, out: []byte(replMagic), wake: make(chan struct{}, 1), done: make(chan struct{})}
	if tc, ok := nc.(*net.TCPConn); ok {
		c.raw, _ = tc.SyscallConn()
	}
	p.t.mu.Lock()
	defer p.t.mu.Unlock()
	if p.t.closed {
		nc.Close()
		return nil, errReplClosed
	}
	p.t.wg.Add(2)
	go func() { defer p.t.wg.Done(); c.writeLoop() }()
	go func() { defer p.t.wg.Done(); c.readLoop() }()
	return c, nil
}

func (p *replPeer) close() {
	p.mu.Lock()
	p.closed = true
	c := p.cur
	p.mu.Unlock()
	if c != nil {
		c.close(errReplClosed)
	}
}

// replConn is one client stream. Callers append frames to its output
// buffer and wake its writer, which writes everything queued in one
// system call (writes that arrive together leave together); its reader
// hands replies to the callers by id. While any write awaits its reply
// the stream has a read deadline of replicaTimeout: a peer that stops
// answering fails every pending write and the stream, and the next write
// redials.
type replConn struct {
	nc           net.Conn
	peer         string
	replyTimeout time.Duration
	failures     *atomic.Uint64 // counts streams that failed
	wake         chan struct{}  // the writer has output to write
	// raw is the plaintext TCP socket (nil on TLS), on which send first
	// tries to write its frame at once (writeNow).
	raw syscall.RawConn

	mu      sync.Mutex
	out     []byte // frames not yet handed to the writer
	writing bool   // writeLoop is writing frames taken from out
	nextID  uint64
	pending map[uint64]pendingReply
	err     error         // why it closed
	done    chan struct{} // closed when it closed
}

type pendingReply struct {
	idx     int
	results chan<- replReply
}

// maxReplBacklog bounds the frames queued for a stream that is not
// draining them (its peer stopped reading): past it the stream fails.
const maxReplBacklog = 32 << 20

func (c *replConn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// send queues one frame; see replTransport.send.
func (c *replConn) send(write []byte, idx int, results chan<- replReply) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		results <- replReply{idx: idx, err: err}
		return
	}
	if len(c.out)+len(write) > maxReplBacklog {
		err := fmt.Errorf("cluster: replication stream to %s: %d bytes queued, the peer is not reading", c.peer, len(c.out))
		c.mu.Unlock()
		c.close(err)
		results <- replReply{idx: idx, err: err}
		return
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = pendingReply{idx: idx, results: results}
	if len(c.pending) == 1 {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.replyTimeout))
	}
	c.out = appendFrame(c.out, frameWrite, id, write)
	// NB: a write goes out from the sender's goroutine when the socket
	// takes it at once and writeLoop is idle: waking writeLoop costs a
	// goroutine switch on the write's path (about 100 µs on a loaded
	// machine), longer than the write. What the socket does not take
	// (its buffer full) stays queued for writeLoop, in order.
	if c.raw != nil && !c.writing {
		if n := writeNow(c.raw, c.out); n > 0 {
			c.out = c.out[:copy(c.out, c.out[n:])]
		}
	}
	queued := len(c.out) > 0
	c.mu.Unlock()
	if !queued {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close fails every pending write with err and closes the stream.
// Idempotent.
func (c *replConn) close(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.pending
	c.pending = nil
	close(c.done)
	c.mu.Unlock()
	if !errors.Is(err, errReplClosed) {
		c.failures.Add(1)
	}
	c.nc.Close()
	for _, p := range pending {
		p.results <- replReply{idx: p.idx, err: err}
	}
}

func (c *replConn) writeLoop() {
	var spare []byte
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		c.mu.Lock()
		out := c.out
		if len(out) == 0 { // woken for output an earlier pass took
			c.mu.Unlock()
			continue
		}
		c.out = spare[:0] // NB: never out's memory, which is being written
		c.writing = true  // send writes nothing itself meanwhile: frames stay in order
		c.mu.Unlock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.replyTimeout))
		if _, err := c.nc.Write(out); err != nil {
			c.close(fmt.Errorf("cluster: replication stream to %s: %w", c.peer, err))
			return
		}
		c.mu.Lock()
		c.writing = false
		again := len(c.out) > 0
		c.mu.Unlock()
		if again { // queued while writing (their wake may have been taken)
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
		spare = out
	}
}

func (c *replConn) readLoop() {
	br := bufio.NewReaderSize(c.nc, 16<<10)
	var buf []byte
	for {
		typ, id, payload, err := readFrame(br, buf)
		if err != nil {
			c.close(fmt.Errorf("cluster: replication stream to %s: %w", c.peer, err))
			return
		}
		buf = payload[:0]
		if typ != frameWriteReply {
			c.close(fmt.Errorf("cluster: replication stream to %s: unexpected frame type %d", c.peer, typ))
			return
		}
		rep := &clusterv1.ReplicaWriteReply{}
		if err := proto.Unmarshal(payload, rep); err != nil {
			c.close(fmt.Errorf("cluster: replication stream to %s: decode reply: %w", c.peer, err))
			return
		}
		c.mu.Lock()
		p, ok := c.pending[id]
		delete(c.pending, id)
		if len(c.pending) == 0 {
			_ = c.nc.SetReadDeadline(time.Time{})
		} else {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.replyTimeout))
		}
		c.mu.Unlock()
		if ok {
			p.results <- replReply{idx: p.idx, rep: rep}
		}
	}
}

// appendFrame appends one frame of a marshalled message to b.
func appendFrame(b []byte, typ byte, id uint64, payload []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(frameHeader+len(payload)))
	b = append(b, typ)
	b = binary.BigEndian.AppendUint64(b, id)
	return append(b, payload...)
}

// putFrameHeader fills the header of frame, a whole frame whose payload
// follows its first 4+frameHeader bytes.
func putFrameHeader(frame []byte, typ byte, id uint64) {
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	frame[4] = typ
	binary.BigEndian.PutUint64(frame[5:], id)
}

// readFrame reads one frame, reusing buf for its payload when it is large
// enough.
func readFrame(r *bufio.Reader, buf []byte) (typ byte, id uint64, payload []byte, err error) {
	var hdr [4 + frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[0:])
	if n < frameHeader || n > maxReplFrame {
		return 0, 0, nil, fmt.Errorf("replication frame of %d bytes (limit %d)", n, maxReplFrame)
	}
	size := int(n) - frameHeader
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	payload = buf[:size]
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, 0, nil, fmt.Errorf("replication frame: %w", err)
	}
	return hdr[4], binary.BigEndian.Uint64(hdr[5:]), payload, nil
}
