package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
)

// exportSeqs exports with f and returns the seqs of the lines, checking
// that every line is one event whose hash can be recomputed from it.
func exportSeqs(tb testing.TB, s qgate.AuditStore, f qgate.AuditFilter) []int64 {
	tb.Helper()
	var buf bytes.Buffer
	if err := audit.Export(context.Background(), s, &buf, f); err != nil {
		tb.Fatal(err)
	}
	var seqs []int64
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var e qgate.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			tb.Fatalf("line %q: %v", sc.Text(), err)
		}
		if e.ChainHash() != e.Hash {
			tb.Fatalf("exported seq %d does not hash as stored: %s", e.Seq, sc.Text())
		}
		seqs = append(seqs, e.Seq)
	}
	return seqs
}

func TestExport(t *testing.T) {
	db, _ := MustOpen(t)
	MustAppend(t, db, 2500) // more than one export page

	t.Run("All", func(t *testing.T) {
		seqs := exportSeqs(t, db, qgate.AuditFilter{})
		if len(seqs) != 2500 {
			t.Fatalf("exported %d events, want 2500", len(seqs))
		}
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("line %d has seq %d", i, s)
			}
		}
	})
	for _, tc := range []struct {
		name       string
		f          qgate.AuditFilter
		n          int
		first, end int64
	}{
		{"LimitAcrossPages", qgate.AuditFilter{Limit: 1500}, 1500, 1, 1500},
		{"LimitOnePage", qgate.AuditFilter{Limit: 1000}, 1000, 1, 1000},
		{"AfterSeq", qgate.AuditFilter{AfterSeq: 2000}, 500, 2001, 2500},
		{"Filter", qgate.AuditFilter{RequestID: "r7"}, 1, 7, 7},
		{"Desc", qgate.AuditFilter{Desc: true, Limit: 3}, 3, 2500, 2498},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seqs := exportSeqs(t, db, tc.f)
			if len(seqs) != tc.n || seqs[0] != tc.first || seqs[len(seqs)-1] != tc.end {
				t.Fatalf("exported %d events from %d to %d, want %d from %d to %d",
					len(seqs), seqs[0], seqs[len(seqs)-1], tc.n, tc.first, tc.end)
			}
		})
	}

	t.Run("DataAsHashed", func(t *testing.T) {
		// Through Log, data with spaces and HTML characters comes out of
		// Export exactly as hashed.
		db, _ := MustOpen(t)
		l := audit.NewLog(db, audit.LogOptions{})
		defer l.Close()
		e := &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x", Data: []byte(`{"sql": "SELECT 1 WHERE a < b && c > d"}`)}
		if err := l.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := audit.Export(context.Background(), db, &buf, qgate.AuditFilter{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), `"data":{"sql":"SELECT 1 WHERE a < b && c > d"}`) {
			t.Fatalf("export = %s", buf.String())
		}
		exportSeqs(t, db, qgate.AuditFilter{})
	})
}
