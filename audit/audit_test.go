package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/store/sqlite"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)

// MustOpen opens a SQLite store in a temporary directory, closed when tb
// ends, and returns it with its file name.
func MustOpen(tb testing.TB) (*sqlite.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "qgate.db")
	db, err := sqlite.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, path
}

// MustAppend appends n events numbered from 1 in their RequestID.
func MustAppend(tb testing.TB, s qgate.AuditStore, n int) {
	tb.Helper()
	var es []*qgate.AuditEvent
	for i := 1; i <= n; i++ {
		es = append(es, &qgate.AuditEvent{
			Time:      t0.Add(time.Duration(i) * time.Second),
			Type:      qgate.AuditRequest,
			Action:    "allow",
			RequestID: fmt.Sprintf("r%d", i),
			Data:      []byte(fmt.Sprintf(`{"i":%d}`, i)),
		})
	}
	if err := s.AppendAudit(context.Background(), es); err != nil {
		tb.Fatal(err)
	}
}

// MustRaw opens the SQLite file directly, bypassing the store, as an
// attacker with write access to it would.
func MustRaw(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

func mustExec(tb testing.TB, db *sql.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}
