package httpproxy_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/internal/audittest"
)

// TestProxy_AsyncAuditDurability: under audit.durability async an allowed
// call is forwarded while its audit commit is pending; once a commit has
// failed, calls are refused (503, not forwarded) until one succeeds.
// (Sync durability, the default, is what every other test runs with; its
// refusal when the store fails is TestProxy_AuditFailure's subject.)
func TestProxy_AsyncAuditDurability(t *testing.T) {
	ss := &audittest.StallStore{}
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
	ss.Stall()
	done := make(chan int, 1)
	go func() { done <- get("/v1/users/1") }()
	select {
	case code := <-done:
		if code != http.StatusOK {
			t.Fatalf("GET while the audit store stalls: %d", code)
		}
	case <-time.After(2 * time.Second):
		ss.Resume()
		t.Fatal("the call waited for the audit commit under async durability")
	}
	ss.Resume()

	ss.Fail.Store(true)
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
	ss.Fail.Store(false)
	if code := get("/v1/users/4"); code != http.StatusOK {
		t.Fatalf("GET after recovery: %d", code)
	}
	if log.Failing() {
		t.Fatal("still failing after a good commit")
	}
}
