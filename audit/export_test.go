package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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

// The CSV export has one row per event after the header, across pages,
// with every field as stored, and defuses cells a spreadsheet would run.
func TestExportCSV(t *testing.T) {
	db, _ := MustOpen(t)
	MustAppend(t, db, 1200)
	odd := &qgate.AuditEvent{Time: t0.Add(time.Hour), Type: qgate.AuditVote, Action: "approved",
		Identity: "=HYPERLINK(\"http://x\")", Target: "db, \"main\"", ReviewID: 7, Data: []byte(`{"comment":"a\nb"}`)}
	if err := db.AppendAudit(context.Background(), []*qgate.AuditEvent{odd}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := audit.ExportCSV(context.Background(), db, &buf, qgate.AuditFilter{}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1202 || !slices.Equal(rows[0], audit.CSVHeader) {
		t.Fatalf("%d rows, header %q", len(rows), rows[0])
	}
	all, err := db.ListAudit(context.Background(), qgate.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range all {
		r := rows[i+1]
		if r[0] != strconv.FormatInt(e.Seq, 10) || r[4] != e.RequestID || r[10] != string(e.Data) || r[12] != e.Hash || r[11] != e.PrevHash {
			t.Fatalf("row %d = %q, event %+v", i+1, r, e)
		}
		if tm, err := time.Parse(time.RFC3339Nano, r[1]); err != nil || !tm.Equal(e.Time) {
			t.Fatalf("row %d time %q, want %v", i+1, r[1], e.Time)
		}
	}
	last := rows[len(rows)-1]
	if last[6] != `'=HYPERLINK("http://x")` || last[7] != `db, "main"` || last[9] != "7" || last[10] != `{"comment":"a\nb"}` {
		t.Fatalf("last row %q", last)
	}
	if rows[1][9] != "" {
		t.Fatalf("review_id of an event without a review = %q", rows[1][9])
	}

	buf.Reset()
	if err := audit.ExportCSV(context.Background(), db, &buf, qgate.AuditFilter{Type: qgate.AuditVote}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Fatalf("filtered export has %d lines: %s", n, buf.String())
	}
}

// TestExport_VerifiedByPython: scripts/verify-audit-export.py, the check
// docs/audit.md gives for an export without qgate, verifies a real export
// holding awkward values, and names the first edited record.
func TestExport_VerifiedByPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is needed for this test (.ci/run installs it)")
		}
		t.Skip("python3 is not installed")
	}
	db, _ := MustOpen(t)
	at := time.Date(2026, 11, 27, 8, 52, 17, 289500461, time.UTC)
	events := []*qgate.AuditEvent{
		{Time: at, Type: qgate.AuditAdmin, Action: "started"},
		{Time: at.Add(time.Nanosecond), Type: qgate.AuditRequest, Action: "allow", RequestID: "019a-1", TokenID: "tok1",
			Identity: "zoë <admin> & \"ops\"", Target: "api", Environment: "prod", ReviewID: 7,
			Data: []byte(`{"path":"/a?b=<c>&d","note":"line\u2028sep é 😀","nested":{"data":1,"prev_hash":"x"},"list":[1,2.5,null,true]}`)},
		{Time: at.Add(time.Second), Type: qgate.AuditExecution, Action: "forwarded", RequestID: "019a-1",
			Data: []byte(`{"status":200,"duration_ms":0.35}`)},
		{Time: time.Date(1969, 12, 31, 23, 59, 59, 5, time.UTC), Type: qgate.AuditVote, Action: "approve", Identity: "bob"},
	}
	for _, batch := range [][]*qgate.AuditEvent{events[:2], events[2:]} {
		if err := db.AppendAudit(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := audit.Export(context.Background(), db, &buf, qgate.AuditFilter{}); err != nil {
		t.Fatal(err)
	}
	run := func(text string) (string, error) {
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(py, "../scripts/verify-audit-export.py", path).CombinedOutput()
		return string(out), err
	}
	out, err := run(buf.String())
	if want := fmt.Sprintf("chain OK: 4 records, head %s\n", events[3].Hash); err != nil || out != want {
		t.Fatalf("verify a true export: %v, %q; want %q", err, out, want)
	}
	edited := strings.Replace(buf.String(), `"status":200`, `"status":500`, 1)
	if out, err := run(edited); err == nil || !strings.Contains(out, "record 3 (line 3): hash mismatch") {
		t.Fatalf("verify an edited export: %v, %q", err, out)
	}
}
