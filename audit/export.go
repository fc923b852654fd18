package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

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
	write := func(es []*qgate.AuditEvent) error {
		for _, e := range es {
			if err := enc.Encode(e); err != nil {
				return fmt.Errorf("export audit: seq %d: %w", e.Seq, err)
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
