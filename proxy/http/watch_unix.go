//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package httpproxy

import (
	"crypto/tls"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// watchClient calls gone when the client's connection is seen closing
// while a call is held, until stop is called; stop returns once watching
// has ended, and the connection can then be used again.
//
// A held HTTP/1.1 client has nothing to send, so the socket is waited on
// through the runtime's poller and peeked at when it becomes readable:
// end of stream or an error mean the client left, and so does a TLS alert
// record (close_notify comes before the TCP close). Any other bytes are a
// pipelined request: the client is still there, and watching ends.
func watchClient(nc net.Conn, gone func()) (stop func()) {
	raw, isTLS := nc, false
	if tc, ok := nc.(*tls.Conn); ok {
		raw, isTLS = tc.NetConn(), true
	}
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return func() {}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	var stopping atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		left := false
		var buf [1]byte
		rc.Read(func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch {
			case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR:
				return false // nothing yet: wait until readable
			case err != nil || n == 0:
				left = true
			case isTLS && buf[0] == 21: // TLS record type alert
				left = true
			}
			return true
		})
		if left && !stopping.Load() {
			gone()
		}
	}()
	return func() {
		stopping.Store(true)
		raw.SetReadDeadline(time.Unix(1, 0)) // wakes the poller wait
		<-done
		raw.SetReadDeadline(time.Time{})
	}
}
