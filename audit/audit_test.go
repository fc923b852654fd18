package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/internal/audittest"
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
	MustAppendBlocks(tb, s, n, n)
}

// MustAppendBlocks appends the events of MustAppend in calls of per
// events: in the SQLite store, blocks of per events.
func MustAppendBlocks(tb testing.TB, s qgate.AuditStore, n, per int) {
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
	for chunk := range slices.Chunk(es, per) {
		if err := s.AppendAudit(context.Background(), chunk); err != nil {
			tb.Fatal(err)
		}
	}
}

// RewriteChain rewrites the whole audit chain of a raw SQLite file as a
// careful attacker would: it decodes every event, lets fn change them, and
// stores the result as one block whose columns and lookup rows agree with
// its events, encoded by encoding/json.
func RewriteChain(tb testing.TB, raw *sql.DB, fn func([]qgate.AuditEvent) []qgate.AuditEvent) {
	tb.Helper()
	rows, err := raw.Query(`SELECT events FROM audit_blocks ORDER BY first_seq`)
	if err != nil {
		tb.Fatal(err)
	}
	var es []qgate.AuditEvent
	for rows.Next() {
		var text []byte
		if err := rows.Scan(&text); err != nil {
			tb.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		for {
			var e qgate.AuditEvent
			if err := dec.Decode(&e); err == io.EOF {
				break
			} else if err != nil {
				tb.Fatal(err)
			}
			es = append(es, e)
		}
	}
	if err := rows.Close(); err != nil {
		tb.Fatal(err)
	}
	es = fn(es)
	var lines [][]byte
	minT, maxT := int64(math.MaxInt64), int64(math.MinInt64)
	for _, e := range es {
		b, err := json.Marshal(e)
		if err != nil {
			tb.Fatal(err)
		}
		lines = append(lines, b)
		minT, maxT = min(minT, e.Time.UnixNano()), max(maxT, e.Time.UnixNano())
	}
	for _, q := range []string{`DELETE FROM audit_blocks`, `DELETE FROM audit_requests`, `DELETE FROM audit_reviews`} {
		audittest.Exec(tb, raw, q)
	}
	first, last := es[0], es[len(es)-1]
	audittest.Exec(tb, raw, `INSERT INTO audit_blocks (first_seq, last_seq, min_time, max_time, last_hash, events) VALUES (?, ?, ?, ?, ?, ?)`,
		first.Seq, last.Seq, minT, maxT, last.Hash, string(bytes.Join(lines, []byte("\n"))))
	for _, e := range es {
		if e.RequestID != "" {
			audittest.Exec(tb, raw, `INSERT OR IGNORE INTO audit_requests (request_id, first_seq) VALUES (?, ?)`, e.RequestID, first.Seq)
		}
		if e.ReviewID != 0 {
			audittest.Exec(tb, raw, `INSERT OR IGNORE INTO audit_reviews (review_id, first_seq) VALUES (?, ?)`, e.ReviewID, first.Seq)
		}
	}
}
