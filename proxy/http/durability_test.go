package httpproxy_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
)

// stallStore is an audit store whose commits can be held back or made to
// fail.
type stallStore struct {
	qgate.AuditStore
	fail    atomic.Bool
	mu      sync.Mutex
	stalled chan struct{}
}

func (s *stallStore) stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalled = make(chan struct{})
}

func (s *stallStore) resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalled != nil {
		close(s.stalled)
		s.stalled = nil
	}
}

func (s *stallStore) AppendAudit(ctx context.Context, es []*qgate.AuditEvent) error {
	s.mu.Lock()
	ch := s.stalled
	s.mu.Unlock()
	if ch != nil {
		<-ch
	}
	if s.fail.Load() {
		return errors.New("disk on fire")
	}
	return s.AuditStore.AppendAudit(ctx, es)
}

// TestProxy_AsyncAuditDurability: under audit.durability async an allowed
// call is forwarded while its audit commit is pending; once a commit has
// failed, calls are refused (503, not forwarded) until one succeeds.
// (Sync durability, the default, is what every other test runs with; its
// refusal when the store fails is TestProxy_AuditFailure's subject.)
func TestProxy_AsyncAuditDurability(t *testing.T) {
	ss := &stallStore{}
	var log *audit.Log
	e := newEnv(t, nil, nil, func(e *env, _ *qgate.Target) {
		ss.AuditStore = e.db
		log = audit.NewLog(ss, audit.LogOptions{Durability: audit.DurabilityAsync, Logger: slog.New(slog.DiscardHandler)})
		e.proxy.Audit = log
	})
	t.Cleanup(func() { log.Close() }) // before newEnv's cleanup verifies the chain
	ctx := context.Background()
	get := func(path string) int {
		res := e.do(ctx, "GET", path, e.token, nil, nil)
		res.Body.Close()
		return res.StatusCode
	}
	ss.stall()
	done := make(chan int, 1)
	go func() { done <- get("/v1/users/1") }()
	select {
	case code := <-done:
		if code != http.StatusOK {
			t.Fatalf("GET while the audit store stalls: %d", code)
		}
	case <-time.After(2 * time.Second):
		ss.resume()
		t.Fatal("the call waited for the audit commit under async durability")
	}
	ss.resume()

	ss.fail.Store(true)
	get("/v1/users/2") // its commit (or an earlier one) fails
	deadline := time.Now().Add(5 * time.Second)
	for !log.Failing() {
		if time.Now().After(deadline) {
			t.Fatal("the failed commit did not mark the audit log failing")
		}
		time.Sleep(time.Millisecond)
	}
	before := len(e.up.requests())
	if code := get("/v1/users/3"); code != http.StatusServiceUnavailable {
		t.Fatalf("GET while the audit log fails: %d, want 503", code)
	}
	if after := len(e.up.requests()); after != before {
		t.Fatalf("a call reached the upstream while the audit log was failing")
	}
	ss.fail.Store(false)
	if code := get("/v1/users/4"); code != http.StatusOK {
		t.Fatalf("GET after recovery: %d", code)
	}
	if log.Failing() {
		t.Fatal("still failing after a good commit")
	}
}
