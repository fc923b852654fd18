// Package clientip finds the address of the client behind an HTTP request
// that may have come through reverse proxies the operator trusts
// (server.trusted_proxies). X-Forwarded-For is read only when the
// connection comes from a trusted proxy, and then from the right: each
// trusted hop vouches only for the address to its left, so the first
// address that is not a trusted proxy is the client. Addresses a client
// put in the header itself are never reached while an untrusted hop is in
// between.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds client addresses. The zero value trusts no proxy: the
// client is the TCP peer.
type Resolver struct {
	Trusted []netip.Prefix
}

// Parse reads proxy addresses or CIDR ranges ("10.0.0.0/8", "127.0.0.1").
func Parse(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if p, err := netip.ParsePrefix(e); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR range", e)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (r *Resolver) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range r.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IP returns the client's address for req, without a port. A nil or
// empty Resolver trusts nobody: the peer address.
func (r *Resolver) IP(req *http.Request) string {
	peer := req.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	if r == nil || len(r.Trusted) == 0 {
		return peer
	}
	a, err := netip.ParseAddr(peer)
	if err != nil || !r.trusted(a) {
		return peer
	}
	client := a
	hops := req.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			h, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				// A trusted proxy wrote something that is not an
				// address: stop at the last hop we can vouch for.
				return client.Unmap().String()
			}
			client = h
			if !r.trusted(h) {
				return h.Unmap().String()
			}
		}
	}
	return client.Unmap().String()
}
