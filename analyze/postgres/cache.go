package postgres

import (
	"hash/maphash"
	"sync"
)

// lru is a bounded, sharded least-recently-used map, safe for concurrent
// use. Sharding keeps lock hold times short when many connections analyse
// at once; each shard is a map plus an intrusive doubly-linked list.
// A nil *lru stores nothing (caching disabled).
type lru[K comparable, V any] struct {
	seed   maphash.Seed
	shards []lruShard[K, V]
}

type lruShard[K comparable, V any] struct {
	mu    sync.Mutex
	cap   int
	items map[K]*lruEntry[K, V]
	head  lruEntry[K, V] // sentinel: head.next is the most recently used
}

type lruEntry[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruEntry[K, V]
}

// newLRU returns a cache holding about size entries, or nil when size <= 0.
func newLRU[K comparable, V any](size int) *lru[K, V] {
	if size <= 0 {
		return nil
	}
	n := 16
	for n > 1 && size/n < 8 {
		n /= 2
	}
	c := &lru[K, V]{seed: maphash.MakeSeed(), shards: make([]lruShard[K, V], n)}
	per := (size + n - 1) / n
	for i := range c.shards {
		s := &c.shards[i]
		s.cap = per
		s.items = make(map[K]*lruEntry[K, V])
		s.head.next, s.head.prev = &s.head, &s.head
	}
	return c
}

func (c *lru[K, V]) shard(k K) *lruShard[K, V] {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	return &c.shards[maphash.Comparable(c.seed, k)%uint64(len(c.shards))]
}

// enabled reports whether the cache stores anything (nil: disabled).
func (c *lru[K, V]) enabled() bool { return c != nil }

// get returns the value stored for k and marks it recently used.
func (c *lru[K, V]) get(k K) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[k]
	if !ok {
		return zero, false
	}
	s.unlink(e)
	s.pushFront(e)
	return e.val, true
}

// put stores v for k, evicting the least recently used entry of the shard
// when it is full.
func (c *lru[K, V]) put(k K, v V) {
	if c == nil {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.items[k]; ok {
		e.val = v
		s.unlink(e)
		s.pushFront(e)
		return
	}
	var e *lruEntry[K, V]
	if len(s.items) >= s.cap {
		e = s.head.prev // reuse the evicted entry
		s.unlink(e)
		delete(s.items, e.key)
	} else {
		e = new(lruEntry[K, V])
	}
	e.key, e.val = k, v
	s.items[k] = e
	s.pushFront(e)
}

// len reports the number of entries (for tests).
func (c *lru[K, V]) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.items)
		s.mu.Unlock()
	}
	return n
}

func (s *lruShard[K, V]) unlink(e *lruEntry[K, V]) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (s *lruShard[K, V]) pushFront(e *lruEntry[K, V]) {
	e.prev = &s.head
	e.next = s.head.next
	s.head.next.prev = e
	s.head.next = e
}
