package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/qgate/qgate"
)

// BenchmarkListAuditSince lists, from a log of 20,000 blocks (about a
// million events in production batches), the newest page of the last
// minute (Since) and the last page of an export by seq (AfterSeq).
func BenchmarkListAuditSince(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "qgate.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const blocks = 20000
	for i := range blocks {
		es := []*qgate.AuditEvent{
			{Time: t0.Add(time.Duration(i) * time.Second), Type: "request", Action: "allow", TokenID: "tok1"},
			{Time: t0.Add(time.Duration(i)*time.Second + time.Millisecond), Type: "execution", Action: "forwarded", TokenID: "tok1"},
		}
		if err := db.AppendAudit(ctx, es); err != nil {
			b.Fatal(err)
		}
	}
	since := t0.Add((blocks - 60) * time.Second)
	b.Run("AfterSeq", func(b *testing.B) {
		// The last page of an export (qgate audit export pages by seq).
		for b.Loop() {
			es, err := db.ListAudit(ctx, qgate.AuditFilter{AfterSeq: 2*blocks - 100, Limit: 50})
			if err != nil || len(es) != 50 {
				b.Fatalf("%d events, %v", len(es), err)
			}
		}
	})
	b.Run("Since", func(b *testing.B) {
		for b.Loop() {
			es, err := db.ListAudit(ctx, qgate.AuditFilter{Since: since, Type: "request", Limit: 50, Desc: true})
			if err != nil || len(es) != 50 {
				b.Fatalf("%d events, %v", len(es), err)
			}
			es, err = db.ListAudit(ctx, qgate.AuditFilter{Since: since, Type: "request", Limit: 50})
			if err != nil || len(es) != 50 {
				b.Fatalf("%d events, %v", len(es), err)
			}
		}
	})
}

// BenchmarkScanAudit reads a chain of 20,000 events in blocks of 40, as
// qgate audit verify does, with every check of the stored form.
func BenchmarkScanAudit(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "qgate.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	const blocks, per = 500, 40
	for i := range blocks {
		es := make([]*qgate.AuditEvent, per)
		for j := range es {
			es[j] = &qgate.AuditEvent{Type: "request", Action: "allow", TokenID: "tok1", Identity: "bench", Target: "db",
				RequestID: fmt.Sprintf("req-%06d-%02d", i, j/2),
				Data:      []byte(`{"sql":"SELECT abalance FROM pgbench_accounts WHERE aid = 12345;","protocol":"simple","risk":"low","findings":[]}`)}
		}
		if err := db.AppendAudit(ctx, es); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := db.ScanAudit(ctx, 0, func(*qgate.AuditEvent) error { n++; return nil }); err != nil || n != blocks*per {
			b.Fatalf("%d events, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*blocks*per), "ns/event")
}
