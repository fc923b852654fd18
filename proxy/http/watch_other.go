//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package httpproxy

import "net"

// watchClient cannot wait on a socket without reading it on this
// platform: a held client that leaves is noticed when its answer is
// written.
func watchClient(net.Conn, func()) (stop func()) { return func() {} }
