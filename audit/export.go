package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/qgate/qgate"
)

// exportPage is how many events Export reads per store call.
const exportPage = 1000

// Export writes the events matching f to w as JSON lines, one
// qgate.AuditEvent per line, in the order ListAudit returns them. It reads
// oldest-first exports a page at a time, so the whole log never sits in
// memory. Data is written compacted and without HTML escaping; for events
// appended through Log, which stores Data compacted, each line therefore
// carries the exact bytes that were hashed and can be re-verified.
func Export(ctx context.Context, store qgate.AuditStore, w io.Writer, f qgate.AuditFilter) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return each(ctx, store, f, func(e *qgate.AuditEvent) error {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("export audit: seq %d: %w", e.Seq, err)
		}
		return nil
	})
}

// CSVHeader is the first row ExportCSV writes.
var CSVHeader = []string{"seq", "time", "type", "action", "request_id", "token_id", "identity",
	"target", "environment", "review_id", "data", "prev_hash", "hash"}

// ExportCSV writes the events matching f to w as CSV (RFC 4180) with the
// header row CSVHeader, in the order Export uses. Time is RFC 3339 with
// nanoseconds in UTC, Data its JSON text. A cell that a spreadsheet would
// run as a formula (one starting with =, +, -, @, tab or carriage return)
// is prefixed with a single quote; only free-text fields such as an
// identity can start so, and hashes and data never do.
func ExportCSV(ctx context.Context, store qgate.AuditStore, w io.Writer, f qgate.AuditFilter) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("export audit: %w", err)
	}
	row := make([]string, len(CSVHeader))
	err := each(ctx, store, f, func(e *qgate.AuditEvent) error {
		row = append(row[:0], strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), e.Type, e.Action,
			e.RequestID, e.TokenID, e.Identity, e.Target, e.Environment, "", string(e.Data), e.PrevHash, e.Hash)
		if e.ReviewID != 0 {
			row[9] = strconv.FormatInt(e.ReviewID, 10)
		}
		for i, v := range row {
			row[i] = defuseFormula(v)
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("export audit: seq %d: %w", e.Seq, err)
		}
		return nil
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return err
}

// defuseFormula keeps a spreadsheet from evaluating a cell.
func defuseFormula(v string) string {
	if v != "" {
		switch v[0] {
		case '=', '+', '-', '@', '\t', '\r':
			return "'" + v
		}
	}
	return v
}

// each calls fn for every event matching f, in ListAudit's order, reading
// oldest-first selections a page at a time.
func each(ctx context.Context, store qgate.AuditStore, f qgate.AuditFilter, fn func(*qgate.AuditEvent) error) error {
	write := func(es []*qgate.AuditEvent) error {
		for _, e := range es {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}

	if f.Desc {
		// Newest first cannot be paged by AfterSeq; read it in one go.
		es, err := store.ListAudit(ctx, f)
		if err != nil {
			return fmt.Errorf("export audit: %w", err)
		}
		return write(es)
	}

	remaining := f.Limit // 0: no limit
	page := f
	for {
		page.Limit = exportPage
		if remaining > 0 && remaining < exportPage {
			page.Limit = remaining
		}
		es, err := store.ListAudit(ctx, page)
		if err != nil {
			return fmt.Errorf("export audit: %w", err)
		}
		if err := write(es); err != nil {
			return err
		}
		if len(es) < page.Limit {
			return nil
		}
		if remaining > 0 {
			remaining -= len(es)
			if remaining == 0 {
				return nil
			}
		}
		page.AfterSeq = es[len(es)-1].Seq
	}
}
