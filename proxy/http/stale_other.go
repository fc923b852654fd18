//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package httpproxy

import "net"

// newStaleCheckConn cannot peek at a socket on this platform: a pooled
// connection the upstream closed is noticed when a request on it fails,
// and only replayable requests are sent again.
func newStaleCheckConn(nc net.Conn, _ bool) net.Conn { return nc }
