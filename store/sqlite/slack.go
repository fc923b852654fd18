package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/qgate/qgate"
)

// SaveSlackMessage records where review reviewID's Slack message is,
// replacing any earlier record. EINVALID for an empty channel or ts or a
// review that does not exist.
func (db *DB) SaveSlackMessage(ctx context.Context, reviewID int64, channel, ts string) error {
	if channel == "" || ts == "" {
		return qgate.Errorf(qgate.EINVALID, "slack message: channel and ts required")
	}
	var exists bool
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM reviews WHERE id = ?)`, reviewID).Scan(&exists); err != nil || !exists {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO slack_messages (review_id, channel, ts, updated_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (review_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts, updated_at = excluded.updated_at`,
			reviewID, channel, ts, encTime(db.now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("save slack message: %w", err)
	}
	if !exists {
		return qgate.Errorf(qgate.EINVALID, "slack message: review %d not found", reviewID)
	}
	return nil
}

// SlackMessage returns the channel and ts of review reviewID's Slack
// message. ENOTFOUND if none is recorded.
func (db *DB) SlackMessage(ctx context.Context, reviewID int64) (channel, ts string, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT channel, ts FROM slack_messages WHERE review_id = ?`, reviewID).Scan(&channel, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", qgate.Errorf(qgate.ENOTFOUND, "no slack message for review %d", reviewID)
	} else if err != nil {
		return "", "", fmt.Errorf("slack message: %w", err)
	}
	return channel, ts, nil
}
