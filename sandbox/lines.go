package sandbox

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
)

// sink collects a command's output: it splits it into lines, forwards them
// to the callback one at a time, keeps the tail and spots the messages
// processes print when they hit a limit.
type sink struct {
	mu      sync.Mutex
	onLine  func(Line)
	bytes   int
	lines   int
	dropped int
	tail    []Line
	hits    map[Limit]bool
}

func newSink(onLine func(Line)) *sink {
	return &sink{onLine: onLine, hits: map[Limit]bool{}}
}

// limitHints are stderr messages that show a process ran into a limit,
// for limits no cgroup counts (RLIMIT_NPROC, RLIMIT_AS) or none is used: a failed fork (shells, node's spawn EAGAIN), allocation
// failures (V8, libc, Go) and the shell's reports of SIGXCPU and SIGXFSZ.
var limitHints = []struct {
	re    *regexp.Regexp
	limit Limit
}{
	{regexp.MustCompile(`(?i)cannot fork|fork: (retry|resource temporarily unavailable)|spawn \S* ?EAGAIN|pthread_create.*(resource temporarily unavailable|EAGAIN)|newosproc|failed to create new OS thread`), LimitProcesses},
	{regexp.MustCompile(`(?i)out of memory|cannot allocate memory|ENOMEM|allocation failed|std::bad_alloc`), LimitMemory},
	{regexp.MustCompile(`(?i)cpu time limit exceeded`), LimitCPU},
	{regexp.MustCompile(`(?i)file size limit exceeded|EFBIG`), LimitFileSize},
}

func (s *sink) emit(stream Stream, text string) {
	text = strings.ToValidUTF8(strings.TrimSuffix(text, "\r"), "\uFFFD")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines++
	if stream == Stderr {
		for _, h := range limitHints {
			if !s.hits[h.limit] && h.re.MatchString(text) {
				s.hits[h.limit] = true
			}
		}
	}
	if s.bytes+len(text) > MaxOutputBytes {
		s.dropped++
		return
	}
	s.bytes += len(text) + 1
	l := Line{Stream: stream, Text: text}
	if len(s.tail) == TailLines {
		copy(s.tail, s.tail[1:])
		s.tail = s.tail[:TailLines-1]
	}
	s.tail = append(s.tail, l)
	if s.onLine != nil {
		s.onLine(l)
	}
}

// lineWriter is the io.Writer for one stream; exec.Cmd calls Write from a
// single goroutine per stream.
type lineWriter struct {
	s      *sink
	stream Stream
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= MaxLineBytes {
				w.s.emit(w.stream, string(w.buf[:MaxLineBytes]))
				w.buf = append(w.buf[:0], w.buf[MaxLineBytes:]...)
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		p = p[i+1:]
		for len(w.buf) > MaxLineBytes {
			w.s.emit(w.stream, string(w.buf[:MaxLineBytes]))
			w.buf = append(w.buf[:0], w.buf[MaxLineBytes:]...)
		}
		w.s.emit(w.stream, string(w.buf))
		w.buf = w.buf[:0]
	}
	return n, nil
}

// flush emits a last line that had no newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.s.emit(w.stream, string(w.buf))
		w.buf = nil
	}
}
