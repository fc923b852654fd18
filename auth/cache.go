package auth

import (
	"sync"
	"time"

	"github.com/qgate/qgate"
)

// cache is what Verify remembers per token id: the token as last read from
// the store (for CacheTTL) and when its use was last written (for
// TouchInterval). Times are the Authenticator's clock; a clock that goes
// back makes entries stale.
type cache struct {
	mu sync.Mutex
	// gen changes whenever a token is forgotten, so that a read that
	// raced with a Revoke or Rotate is not kept (see put).
	gen     uint64
	entries map[string]*cacheEntry
	swept   time.Time // when stale entries were last removed
}

type cacheEntry struct {
	tok     *qgate.Token // never modified once kept; nil: none
	readAt  time.Time
	version uint64    // the store's token version when tok was read
	touched time.Time // zero: never written
}

func fresh(at, now time.Time, d time.Duration) bool {
	return d > 0 && !at.IsZero() && !now.Before(at) && now.Sub(at) < d
}

// get returns the kept token with id if it was read less than ttl ago,
// when the store's token version was version, and the generation to pass
// to put after reading the store.
//
// touchDue is false when the token's use was written less than interval
// ago: Verify then need not take the lock again for touch, which under
// load every call would.
func (c *cache) get(id string, now time.Time, ttl, interval time.Duration, version uint64) (t *qgate.Token, gen uint64, touchDue bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[id]
	touchDue = e == nil || !fresh(e.touched, now, interval)
	if e != nil && e.tok != nil && e.version == version && fresh(e.readAt, now, ttl) {
		return e.tok, c.gen, touchDue
	}
	return nil, c.gen, touchDue
}

// put keeps t, read from the store at now, at the store's token version
// (taken before the read), unless a token was forgotten since get
// returned gen: the read may predate a revocation.
func (c *cache) put(t *qgate.Token, now time.Time, gen, version uint64, ttl, interval time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	e := c.entry(t.ID, now, ttl, interval)
	e.tok, e.readAt, e.version = t, now, version
}

// forget drops the kept token with id: it changed in the store.
func (c *cache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e := c.entries[id]; e != nil {
		e.tok = nil
	}
}

// touch reports whether a use of token id at now is to be written to the
// store, that is whether none was written in the last interval, and if so
// notes it as written: concurrent calls write once.
func (c *cache) touch(id string, now time.Time, ttl, interval time.Duration) bool {
	if interval <= 0 {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(id, now, ttl, interval)
	if fresh(e.touched, now, interval) {
		return false
	}
	e.touched = now
	return true
}

// entry returns the entry of id, creating it. At most once per the longer
// of ttl and interval it removes the entries whose token and touch are
// both stale, so that the map holds only tokens used recently.
func (c *cache) entry(id string, now time.Time, ttl, interval time.Duration) *cacheEntry {
	if c.entries == nil {
		c.entries = make(map[string]*cacheEntry)
	}
	if !fresh(c.swept, now, max(ttl, interval)) {
		for k, e := range c.entries {
			if !fresh(e.readAt, now, ttl) && !fresh(e.touched, now, interval) {
				delete(c.entries, k)
			}
		}
		c.swept = now
	}
	e := c.entries[id]
	if e == nil {
		e = &cacheEntry{}
		c.entries[id] = e
	}
	return e
}
