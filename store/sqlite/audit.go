package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qgate/qgate"
)

var _ qgate.AuditStore = (*DB)(nil)

const auditColumns = `seq, time, type, action, request_id, token_id, identity,
	target, environment, review_id, data, prev_hash, hash`

const lastAuditSQL = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`

const insertAuditSQL = `INSERT INTO audit_events (` + auditColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// scanPage is how many events ScanAudit reads per query, so that a slow
// callback never holds one read transaction open for the whole log.
const scanPage = 1000

// AppendAudit appends events in order, in one transaction: it reads the
// last stored (seq, hash), gives each event the next Seq, the previous
// Hash as PrevHash and its own ChainHash as Hash, and inserts it. It
// returns only once the transaction is committed (and, with
// synchronous=FULL, on disk), and sets those fields on the events only
// then. A zero Time becomes Now; Time is stored, and set, in UTC at
// nanosecond precision. Data must be empty or valid JSON (EINVALID).
func (db *DB) AppendAudit(ctx context.Context, events []*qgate.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	for i, e := range events {
		if e == nil {
			return qgate.Errorf(qgate.EINVALID, "audit event %d is nil", i)
		}
		if len(e.Data) > 0 && !json.Valid(e.Data) {
			return qgate.Errorf(qgate.EINVALID, "audit event %d: data is not valid JSON", i)
		}
	}

	db.auditMu.Lock()
	defer db.auditMu.Unlock()

	chained := make([]qgate.AuditEvent, len(events))
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var lastSeq int64
		var lastHash string
		err := tx.StmtContext(ctx, db.lastAudit).QueryRowContext(ctx).Scan(&lastSeq, &lastHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		stmt := tx.StmtContext(ctx, db.insertAudit)
		defer stmt.Close()
		now := db.now()
		for i, e := range events {
			c := *e
			if c.Time.IsZero() {
				c.Time = now
			}
			c.Time = time.Unix(0, c.Time.UnixNano()).UTC()
			if len(c.Data) == 0 {
				c.Data = nil
			}
			c.Seq = lastSeq + 1
			c.PrevHash = lastHash
			c.Hash = c.ChainHash()
			if _, err := stmt.ExecContext(ctx, c.Seq, c.Time.UnixNano(), c.Type, c.Action,
				c.RequestID, c.TokenID, c.Identity, c.Target, c.Environment, c.ReviewID,
				[]byte(c.Data), c.PrevHash, c.Hash); err != nil {
				return fmt.Errorf("seq %d: %w", c.Seq, err)
			}
			chained[i] = c
			lastSeq, lastHash = c.Seq, c.Hash
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	for i, e := range events {
		*e = chained[i]
	}
	return nil
}

// ListAudit returns the events matching f, oldest first unless f.Desc.
// Since is inclusive and Until exclusive; AfterSeq selects seq > AfterSeq
// and BeforeSeq seq < BeforeSeq.
func (db *DB) ListAudit(ctx context.Context, f qgate.AuditFilter) ([]*qgate.AuditEvent, error) {
	var where []string
	var args []any
	eq := func(col string, v any) {
		where = append(where, col+" = ?")
		args = append(args, v)
	}
	if f.TokenID != "" {
		eq("token_id", f.TokenID)
	}
	if f.Identity != "" {
		eq("identity", f.Identity)
	}
	if f.Target != "" {
		eq("target", f.Target)
	}
	if f.Environment != "" {
		eq("environment", f.Environment)
	}
	if f.Type != "" {
		eq("type", f.Type)
	}
	if f.Action != "" {
		eq("action", f.Action)
	}
	if f.RequestID != "" {
		eq("request_id", f.RequestID)
	}
	if f.ReviewID != 0 {
		eq("review_id", f.ReviewID)
		// Lets SQLite use the partial index audit_events_review.
		where = append(where, "review_id != 0")
	}
	if !f.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, clampNano(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "time < ?")
		args = append(args, clampNano(f.Until))
	}
	if f.AfterSeq > 0 {
		where = append(where, "seq > ?")
		args = append(args, f.AfterSeq)
	}
	if f.BeforeSeq > 0 {
		where = append(where, "seq < ?")
		args = append(args, f.BeforeSeq)
	}
	q := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	if f.Desc {
		q += ` ORDER BY seq DESC`
	} else {
		q += ` ORDER BY seq`
	}
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}

	return queryList(ctx, db.r, "list audit", q, args, scanAuditEvent)
}

// ScanAudit calls fn for every stored event with seq > afterSeq, in seq
// order, exactly as stored. It reads a page at a time, so fn may be slow
// without holding a read transaction open. It stops at fn's first error
// and returns it unwrapped.
func (db *DB) ScanAudit(ctx context.Context, afterSeq int64, fn func(*qgate.AuditEvent) error) error {
	for {
		page, err := db.auditPage(ctx, afterSeq)
		if err != nil {
			return fmt.Errorf("scan audit: %w", err)
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		afterSeq = page[len(page)-1].Seq
	}
}

func (db *DB) auditPage(ctx context.Context, afterSeq int64) ([]*qgate.AuditEvent, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, scanPage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := make([]*qgate.AuditEvent, 0, scanPage)
	for rows.Next() {
		e, err := scanAuditEvent(rows)
		if err != nil {
			return nil, err
		}
		page = append(page, e)
	}
	return page, rows.Err()
}

func scanAuditEvent(s rowScanner) (*qgate.AuditEvent, error) {
	var e qgate.AuditEvent
	var t int64
	var data []byte
	err := s.Scan(&e.Seq, &t, &e.Type, &e.Action, &e.RequestID, &e.TokenID, &e.Identity,
		&e.Target, &e.Environment, &e.ReviewID, &data, &e.PrevHash, &e.Hash)
	if err != nil {
		return nil, err
	}
	e.Time = time.Unix(0, t).UTC()
	if len(data) > 0 {
		e.Data = json.RawMessage(data)
	}
	return &e, nil
}
