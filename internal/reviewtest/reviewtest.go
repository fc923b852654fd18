// Package reviewtest holds helpers for tests that drive held requests
// through a real review engine.
package reviewtest

import (
	"context"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/review"
)

// WaitPending waits up to timeout for a pending review to exist and
// returns the newest one; it fails tb when none appears.
func WaitPending(tb testing.TB, e *review.Engine, timeout time.Duration) *qgate.Review {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rs, err := e.List(context.Background(), qgate.ReviewFilter{Status: qgate.ReviewPending})
		if err != nil {
			tb.Fatal(err)
		}
		if len(rs) > 0 {
			return rs[0]
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no pending review appeared within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
