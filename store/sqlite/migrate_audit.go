package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/qgate/qgate"
)

// legacyBlock is how many events of the old audit_events table go into one
// block when they are moved.
const legacyBlock = 256

// moveAuditEventsToBlocks moves every event of the old one-row-per-event
// table into blocks (migration 0005), exactly as stored, with their seqs
// and hashes, and drops the table: the chain verifies as before.
func moveAuditEventsToBlocks(ctx context.Context, db *DB, tx *sql.Tx) error {
	after := int64(-1 << 63)
	for {
		batch, err := queryList(ctx, tx, "move audit events", `SELECT seq, time, type, action, request_id,
			token_id, identity, target, environment, review_id, data, prev_hash, hash
			FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?`, []any{after, legacyBlock}, scanLegacyEvent)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		if err := db.insertBlock(ctx, tx, newBlock(batch, nil, false)); err != nil {
			return fmt.Errorf("move audit events: %w", err)
		}
		after = batch[len(batch)-1].Seq
	}
	_, err := tx.ExecContext(ctx, `DROP TABLE audit_events`)
	return err
}

func scanLegacyEvent(s rowScanner) (qgate.AuditEvent, error) {
	var e qgate.AuditEvent
	var t int64
	var data []byte
	err := s.Scan(&e.Seq, &t, &e.Type, &e.Action, &e.RequestID, &e.TokenID, &e.Identity,
		&e.Target, &e.Environment, &e.ReviewID, &data, &e.PrevHash, &e.Hash)
	e.Time = time.Unix(0, t).UTC()
	if len(data) > 0 {
		e.Data = data
	}
	return e, err
}
