// Package audittest holds audit-store doubles for tests of the parts that
// write audit events (a store whose commits can be held back or made to
// fail, wrapped around a real one), and direct access to an SQLite store's
// file for the tests that edit it as an attacker would.
package audittest

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/qgate/qgate"
)

// ErrStore is what StallStore returns while Fail is set.
var ErrStore = errors.New("audittest: the audit store fails")

// StallStore passes appends to AuditStore, except that while stalled they
// wait for Resume, and while Fail is set they fail with ErrStore.
type StallStore struct {
	qgate.AuditStore
	Fail    atomic.Bool
	mu      sync.Mutex
	stalled chan struct{} // non-nil: appends wait until it is closed
}

// Stall makes appends wait until Resume.
func (s *StallStore) Stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalled = make(chan struct{})
}

// Resume lets waiting and later appends through.
func (s *StallStore) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalled != nil {
		close(s.stalled)
		s.stalled = nil
	}
}

// AppendAudit implements qgate.AuditStore.
func (s *StallStore) AppendAudit(ctx context.Context, es []*qgate.AuditEvent) error {
	s.mu.Lock()
	ch := s.stalled
	s.mu.Unlock()
	if ch != nil {
		<-ch
	}
	if s.Fail.Load() {
		return ErrStore
	}
	return s.AuditStore.AppendAudit(ctx, es)
}

// Raw opens the SQLite file at path directly, bypassing the store, as an
// attacker with write access to it would, and closes it when tb ends. The
// test binary must register the driver (importing store/sqlite does).
func Raw(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

// Exec runs q on db, failing tb if it fails.
func Exec(tb testing.TB, db *sql.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}
