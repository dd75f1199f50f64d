package runcheck

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// errBrowserGone: the browser process ended (crashed, was killed, or the
// checker closed); the next check starts a new one.
var errBrowserGone = errors.New("runcheck: the browser process ended")

var debugCDP = os.Getenv("STICH_RUNCHECK_DEBUG") != ""

// cdpError is an error answer of the DevTools protocol.
type cdpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *cdpError) Error() string { return fmt.Sprintf("devtools: %s (%d)", e.Message, e.Code) }

// message is one DevTools protocol message in either direction.
type message struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *cdpError       `json:"error,omitempty"`
}

// browser is one running Chromium driven over --remote-debugging-pipe
// (NUL-terminated JSON on fds 3 and 4): no DevTools port is opened.
type browser struct {
	cmd  *exec.Cmd
	w    *os.File // the browser's fd 3
	r    *os.File // the browser's fd 4
	wmu  sync.Mutex
	next atomic.Int64

	mu       sync.Mutex
	pending  map[int64]chan message
	sessions map[string]func(message)

	done   chan struct{} // closed when the reader ends
	waited chan struct{} // closed when the process was reaped
	err    error         // why it ended (set before done closes)
}

// launch starts argv (the browser, possibly under bubblewrap) with the
// DevTools pipe on fds 3 and 4.
func launch(argv []string, stderr io.Writer) (*browser, error) {
	// Our ends: we write cmdW (the browser reads fd 3) and read resR (the
	// browser writes fd 4).
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runcheck: %w", err)
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		return nil, fmt.Errorf("runcheck: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.ExtraFiles = []*os.File{cmdR, resW}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		cmdR.Close()
		cmdW.Close()
		resR.Close()
		resW.Close()
		return nil, fmt.Errorf("runcheck: start the browser: %w", err)
	}
	cmdR.Close()
	resW.Close()
	b := &browser{cmd: cmd, w: cmdW, r: resR, pending: map[int64]chan message{}, sessions: map[string]func(message){},
		done: make(chan struct{}), waited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(b.waited)
	}()
	go b.read()
	return b, nil
}

// read delivers answers to their callers and events to their session's
// handler until the pipe closes.
func (b *browser) read() {
	br := bufio.NewReaderSize(b.r, 1<<16)
	var err error
	for {
		var line []byte
		line, err = br.ReadBytes(0)
		if err != nil {
			break
		}
		if debugCDP {
			fmt.Fprintf(os.Stderr, "%s <- %.200s\n", time.Now().Format("05.000"), line)
		}
		var m message
		if json.Unmarshal(line[:len(line)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch, ok := b.pending[m.ID]; ok {
				delete(b.pending, m.ID)
				ch <- m
			}
		} else if h, ok := b.sessions[m.SessionID]; ok && m.SessionID != "" {
			h(m) // handlers do not block
		}
		b.mu.Unlock()
	}
	b.mu.Lock()
	b.err = fmt.Errorf("%w: %v", errBrowserGone, err)
	for id, ch := range b.pending {
		delete(b.pending, id)
		close(ch)
	}
	close(b.done) // under mu: call registers only while done is open
	b.mu.Unlock()
}

// alive reports whether the browser still answers.
func (b *browser) alive() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// call sends a command (to a page when session is set) and decodes its
// result into out (when not nil).
func (b *browser) call(ctx context.Context, session, method string, params, out any) error {
	id := b.next.Add(1)
	raw, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("runcheck: %s: %w", method, err)
	}
	msg, err := json.Marshal(message{ID: id, Method: method, Params: raw, SessionID: session})
	if err != nil {
		return fmt.Errorf("runcheck: %s: %w", method, err)
	}
	ch := make(chan message, 1)
	b.mu.Lock()
	if !b.alive() {
		b.mu.Unlock()
		return b.err
	}
	b.pending[id] = ch
	b.mu.Unlock()
	if debugCDP {
		fmt.Fprintf(os.Stderr, "%s -> %.200s\n", time.Now().Format("05.000"), msg)
	}
	b.wmu.Lock()
	_, err = b.w.Write(append(msg, 0))
	b.wmu.Unlock()
	if err != nil {
		b.forget(id)
		return fmt.Errorf("%w: %v", errBrowserGone, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return b.err
		}
		if m.Error != nil {
			return fmt.Errorf("runcheck: %s: %w", method, m.Error)
		}
		if out != nil {
			if err := json.Unmarshal(m.Result, out); err != nil {
				return fmt.Errorf("runcheck: %s: %w", method, err)
			}
		}
		return nil
	case <-ctx.Done():
		b.forget(id)
		return fmt.Errorf("runcheck: %s: %w", method, ctx.Err())
	}
}

func (b *browser) forget(id int64) {
	b.mu.Lock()
	delete(b.pending, id)
	b.mu.Unlock()
}

// listen routes a page session's events to h, which must not block;
// the returned function stops it.
func (b *browser) listen(session string, h func(message)) func() {
	b.mu.Lock()
	b.sessions[session] = h
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.sessions, session)
		b.mu.Unlock()
	}
}

// close asks the browser to quit, then kills it (and, under bubblewrap,
// its sandbox) if it has not ended within grace; it waits for the
// process to be reaped.
func (b *browser) close(grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if b.alive() {
		_ = b.call(ctx, "", "Browser.close", struct{}{}, nil)
	}
	b.wmu.Lock()
	b.w.Close()
	b.wmu.Unlock()
	select {
	case <-b.waited:
	case <-ctx.Done():
		killGroup(b.cmd)
		<-b.waited
	}
	<-b.done
	b.r.Close()
}
