//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package httpproxy

import (
	"net"
	"syscall"
)

// staleCheckConn is an upstream connection that, before the first write
// of each request after the first, looks whether the upstream has closed
// it meanwhile (an idle keep-alive timeout, a restart): the request then
// fails with errStaleConn before a byte is sent, and the client sends it
// again on another connection, whatever its method.
type staleCheckConn struct {
	net.Conn
	rc    syscall.RawConn
	tls   bool // TLS bytes may legitimately wait unread (session tickets)
	check bool // a response was read: the next write starts a request

	peek    func(fd uintptr) bool // peekFD
	peekBuf [1]byte
	isStale bool // peekFD's finding
}

func newStaleCheckConn(nc net.Conn, isTLS bool) net.Conn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &staleCheckConn{Conn: nc, rc: rc, tls: isTLS}
	c.peek = c.peekFD
	return c
}

func (c *staleCheckConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.check = true
	return n, err
}

func (c *staleCheckConn) Write(p []byte) (int, error) {
	if c.check {
		c.check = false
		if c.stale() {
			return 0, errStaleConn
		}
	}
	return c.Conn.Write(p)
}

// stale peeks at the socket without blocking. An idle HTTP/1.1
// connection has nothing to read: end of stream, an error, or (in plain
// HTTP) unexpected bytes mean it must not be used; a TLS connection is
// stale once the upstream shut its side.
func (c *staleCheckConn) stale() bool {
	c.isStale = false
	err := c.rc.Read(c.peek)
	return c.isStale || err != nil
}

// peekFD is stale's look at the socket, made once per connection into a
// func value (peek): a closure made per call would cost an allocation.
func (c *staleCheckConn) peekFD(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), c.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
	case err != nil || n == 0:
		c.isStale = true
	default:
		c.isStale = !c.tls || peerHungUp(int(fd))
	}
	return true
}
