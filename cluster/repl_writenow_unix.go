//go:build unix

package cluster

import "syscall"

// writeNow writes as much of p to the socket as it takes without
// waiting (the socket is non-blocking) and returns how many bytes it
// took: 0 when its buffer is full or on any error, which the stream's
// writer, writing the rest, then meets.
func writeNow(raw syscall.RawConn, p []byte) int {
	n := 0
	_ = raw.Write(func(fd uintptr) bool {
		// NB: true: done, whatever the outcome; the poller never waits.
		if w, err := syscall.Write(int(fd), p); err == nil && w > 0 {
			n = w
		}
		return true
	})
	return n
}
