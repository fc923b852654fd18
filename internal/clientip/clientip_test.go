package clientip

import (
	"net/http"
	"testing"
)

func TestResolver(t *testing.T) {
	trusted, err := Parse([]string{"10.0.0.0/8", "127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	r := &Resolver{Trusted: trusted}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer: the header is ignored", "203.0.113.9:4000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted proxy: the client it saw", "127.0.0.1:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a spoofed entry left of the real client stays unread", "127.0.0.1:4000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"a chain of trusted proxies", "10.1.1.1:4000", []string{"198.51.100.1, 10.2.2.2", "10.3.3.3"}, "198.51.100.1"},
		{"every hop trusted: the leftmost", "10.1.1.1:4000", []string{"10.9.9.9, 10.2.2.2"}, "10.9.9.9"},
		{"no header: the peer", "127.0.0.1:4000", nil, "127.0.0.1"},
		{"garbage from a trusted hop: stop there", "10.1.1.1:4000", []string{"198.51.100.1, nonsense"}, "10.1.1.1"},
		{"IPv6 loopback proxy", "[::1]:4000", []string{"2001:db8::7"}, "2001:db8::7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if got := r.IP(req); got != tc.want {
				t.Fatalf("IP = %q, want %q", got, tc.want)
			}
		})
	}
	var none *Resolver
	if got := none.IP(&http.Request{RemoteAddr: "127.0.0.1:1", Header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}}); got != "127.0.0.1" {
		t.Fatalf("nil resolver: %q", got)
	}
	if _, err := Parse([]string{"10.0.0.0/33"}); err == nil {
		t.Fatal("Parse accepted a bad range")
	}
}
