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
// through the runtime's poller and peeked at whenever something arrives:
// end of stream or an error mean the client left, and so does a TLS alert
// record (close_notify comes before the TCP close; isAlertRecord). Other
// bytes (a pipelined request) are left for the server, and watching goes
// on until the peer shuts its side (peerHungUp), which a client closing
// its connection does.
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
	// The server's read deadline for the request (a minute) would end
	// the watch during a longer hold; it arms a new one for the next
	// request anyway.
	raw.SetReadDeadline(time.Time{})
	var stopping atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		left := false
		var buf [5]byte // a TLS record header
		rc.Read(func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch {
			case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR:
				return false // nothing yet: wait until readable
			case err != nil || n == 0:
				left = true
			case isTLS && isAlertRecord(buf[:n]):
				left = true
			case peerHungUp(int(fd)):
				left = true
			default:
				return false // unread bytes: wait for what comes next
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

// isAlertRecord reports whether b starts with a TLS record that is an
// alert: record type 21 up to TLS 1.2, and in TLS 1.3, where every record
// says "application data" (23), one whose length is that of an encrypted
// alert: two bytes of alert, the inner type byte and a 16-byte AEAD tag.
// A pipelined request is never that short. (A TLS 1.3 peer that pads its
// alerts goes unnoticed until it closes the connection.)
func isAlertRecord(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if b[0] == 21 {
		return true
	}
	return len(b) >= 5 && b[0] == 23 && b[1] == 3 && int(b[3])<<8|int(b[4]) == 2+1+16
}
