package auth

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/qgate/qgate"
)

// memStore is an in-memory qgate.TokenStore for tests. It copies tokens in
// and out, as a real store would, so that callers cannot change stored
// state through pointers.
type memStore struct {
	mu     sync.Mutex
	tokens map[string]*qgate.Token
	order  []string // creation order

	// tokenErr, when set, is returned by Token (a store outage).
	tokenErr error
	// touchErr, when set, is returned by TouchToken.
	touchErr error
	touches  int
	// tokenReads counts Token calls; afterRead, when set, runs after a
	// successful one has read the token (outside the lock).
	tokenReads int
	afterRead  func()
}

var _ qgate.TokenStore = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{tokens: make(map[string]*qgate.Token)}
}

func cloneToken(t *qgate.Token) *qgate.Token {
	c := *t
	c.Roles = slices.Clone(t.Roles)
	c.Targets = slices.Clone(t.Targets)
	c.Environments = slices.Clone(t.Environments)
	c.SecretHash = bytes.Clone(t.SecretHash)
	c.PrevSecretHash = bytes.Clone(t.PrevSecretHash)
	return &c
}

func (s *memStore) CreateToken(ctx context.Context, t *qgate.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[t.ID]; ok {
		return qgate.Errorf(qgate.ECONFLICT, "token %s exists", t.ID)
	}
	s.tokens[t.ID] = cloneToken(t)
	s.order = append(s.order, t.ID)
	return nil
}

func (s *memStore) Token(ctx context.Context, id string) (*qgate.Token, error) {
	s.mu.Lock()
	s.tokenReads++
	if s.tokenErr != nil {
		s.mu.Unlock()
		return nil, s.tokenErr
	}
	t, ok := s.tokens[id]
	if !ok {
		s.mu.Unlock()
		return nil, qgate.Errorf(qgate.ENOTFOUND, "token %s not found", id)
	}
	t = cloneToken(t)
	after := s.afterRead
	s.mu.Unlock()
	if after != nil {
		after()
	}
	return t, nil
}

func (s *memStore) reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReads
}

func (s *memStore) ListTokens(ctx context.Context, f qgate.TokenFilter) ([]*qgate.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*qgate.Token
	for _, id := range s.order {
		t := s.tokens[id]
		if f.Identity != "" && t.Identity != f.Identity {
			continue
		}
		if !f.IncludeRevoked && !t.RevokedAt.IsZero() {
			continue
		}
		out = append(out, cloneToken(t))
	}
	return out, nil
}

func (s *memStore) RevokeToken(ctx context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok {
		return qgate.Errorf(qgate.ENOTFOUND, "token %s not found", id)
	}
	if t.RevokedAt.IsZero() {
		t.RevokedAt = at
	}
	return nil
}

func (s *memStore) RotateToken(ctx context.Context, id string, hash []byte, scram string, graceUntil time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok {
		return qgate.Errorf(qgate.ENOTFOUND, "token %s not found", id)
	}
	if graceUntil.IsZero() {
		t.PrevSecretHash, t.PrevSCRAM, t.PrevValidUntil = nil, "", time.Time{}
	} else {
		t.PrevSecretHash, t.PrevSCRAM, t.PrevValidUntil = t.SecretHash, t.SCRAM, graceUntil
	}
	t.SecretHash, t.SCRAM = bytes.Clone(hash), scram
	return nil
}

func (s *memStore) TouchToken(ctx context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touches++
	if s.touchErr != nil {
		return s.touchErr
	}
	t, ok := s.tokens[id]
	if !ok {
		return qgate.Errorf(qgate.ENOTFOUND, "token %s not found", id)
	}
	t.LastUsed = at
	return nil
}

func (s *memStore) stored(id string) *qgate.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneToken(s.tokens[id])
}

// clock is an injectable, adjustable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// versionedStore is a memStore that announces token changes
// (TokenVersioner) with a version the test sets.
type versionedStore struct {
	*memStore
	version uint64
	ok      bool
}

var _ TokenVersioner = (*versionedStore)(nil)

func (s *versionedStore) TokensVersion() (uint64, bool) { return s.version, s.ok }
