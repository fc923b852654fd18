package signin

import (
	"sync"
	"time"
)

// Throttle slows down password guessing for one kind of key (a source IP
// or a user name): after MaxFailures failures within Window, the key is
// locked for BaseDelay, doubling with every further failure up to
// MaxDelay. A success forgets the key. It keeps state in memory, so each
// replica throttles on its own. The zero value is not usable; use
// NewThrottle.
type Throttle struct {
	MaxFailures int
	Window      time.Duration
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	// MaxKeys bounds memory: beyond it, keys without a recent failure
	// are dropped first.
	MaxKeys int

	mu   sync.Mutex
	keys map[string]*attempts
}

type attempts struct {
	failures []time.Time // within Window, oldest first
}

// NewThrottle returns a throttle with the given failure budget per window,
// a 1 s base delay doubling up to 15 min, and room for 100,000 keys.
func NewThrottle(maxFailures int, window time.Duration) *Throttle {
	return &Throttle{MaxFailures: maxFailures, Window: window, BaseDelay: time.Second, MaxDelay: 15 * time.Minute,
		MaxKeys: 100_000, keys: map[string]*attempts{}}
}

// Wait returns how long key must wait before its next attempt at now
// (zero: it may try now).
func (t *Throttle) Wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.keys[key]
	if a == nil {
		return 0
	}
	a.prune(now, t.Window)
	n := len(a.failures)
	if n < t.MaxFailures {
		return 0
	}
	delay := t.BaseDelay
	for i := t.MaxFailures; i < n && delay < t.MaxDelay; i++ {
		delay *= 2
	}
	delay = min(delay, t.MaxDelay)
	until := a.failures[n-1].Add(delay)
	if !now.Before(until) {
		return 0
	}
	return until.Sub(now)
}

// Fail records a failed attempt of key at now.
func (t *Throttle) Fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.keys[key]
	if a == nil {
		if len(t.keys) >= t.MaxKeys {
			t.sweep(now)
		}
		a = &attempts{}
		t.keys[key] = a
	}
	a.prune(now, t.Window)
	a.failures = append(a.failures, now)
}

// Succeed forgets key's failures.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}

// sweep drops keys with no failure within the window; if that is not
// enough, it drops keys until half the room is free.
func (t *Throttle) sweep(now time.Time) {
	for k, a := range t.keys {
		if a.prune(now, t.Window); len(a.failures) == 0 {
			delete(t.keys, k)
		}
	}
	for k := range t.keys {
		if len(t.keys) < t.MaxKeys/2 {
			break
		}
		delete(t.keys, k)
	}
}

func (a *attempts) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(a.failures) && now.Sub(a.failures[i]) >= window {
		i++
	}
	a.failures = a.failures[i:]
}
