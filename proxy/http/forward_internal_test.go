package httpproxy

import "testing"

// TestIsHopHeader: the fast check agrees with hopHeaders.
func TestIsHopHeader(t *testing.T) {
	for _, h := range hopHeaders {
		if !isHopHeader([]byte(h)) {
			t.Errorf("%s is not a hop-by-hop header", h)
		}
	}
	for _, h := range []string{"Content-Type", "Connections", "Tes", "Set-Cookie", ""} {
		if isHopHeader([]byte(h)) {
			t.Errorf("%s is a hop-by-hop header", h)
		}
	}
}
