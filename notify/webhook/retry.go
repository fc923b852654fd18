package webhook

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBackoff caps ExponentialBackoff.
const MaxBackoff = 5 * time.Minute

// ExponentialBackoff is the default wait after failed attempt number
// attempt (from 1) before the next: 1s, 2s, 4s, … doubling up to
// MaxBackoff, each randomised by ±20% so that endpoints that failed
// together do not retry in lockstep, and never above MaxBackoff.
func ExponentialBackoff(attempt int) time.Duration {
	d := MaxBackoff
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 20 {
		d = min(time.Second<<(attempt-1), MaxBackoff)
	}
	jitter := time.Duration(rand.Int64N(int64(d)*2/5+1)) - d/5 // [-20%, +20%]
	return min(d+jitter, MaxBackoff)
}

// retryable reports whether a receiver's status is worth another attempt:
// 5xx and 429. Every other non-2xx status is final.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// sleep waits for d, or until ctx is done; it reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
