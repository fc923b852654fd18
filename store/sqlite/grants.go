package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/qgate/qgate"
)

var _ qgate.GrantStore = (*DB)(nil)

const grantColumns = `id, token_id, target, shape, review_id, created_by, created_at, expires_at, revoked_at`

// CreateGrant inserts g and sets its ID. A zero CreatedAt becomes Now; a
// zero ExpiresAt is invalid, since grants are always bounded.
func (db *DB) CreateGrant(ctx context.Context, g *qgate.Grant) error {
	if g.ExpiresAt.IsZero() {
		return qgate.Errorf(qgate.EINVALID, "grant needs an expiry")
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = db.now()
	}
	err := db.w.QueryRowContext(ctx, `INSERT INTO grants
		(token_id, target, shape, review_id, created_by, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		g.TokenID, g.Target, g.Shape, g.ReviewID, g.CreatedBy,
		encTime(g.CreatedAt), encTime(g.ExpiresAt), encTime(g.RevokedAt),
	).Scan(&g.ID)
	if err != nil {
		return fmt.Errorf("create grant: %w", err)
	}
	return nil
}

// ActiveGrant returns the newest unrevoked grant for token, target and
// shape that expires after now. ENOTFOUND if none.
func (db *DB) ActiveGrant(ctx context.Context, tokenID, target, shape string, now time.Time) (*qgate.Grant, error) {
	g, err := scanGrant(db.r.QueryRowContext(ctx, `SELECT `+grantColumns+` FROM grants
		WHERE token_id = ? AND target = ? AND shape = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC, id DESC LIMIT 1`,
		tokenID, target, shape, clampNano(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, qgate.Errorf(qgate.ENOTFOUND, "no active grant")
	} else if err != nil {
		return nil, fmt.Errorf("active grant: %w", err)
	}
	return g, nil
}

// ListGrants returns the grants active at activeAt (unrevoked, expiring
// after it), newest first. A zero activeAt lists every grant.
func (db *DB) ListGrants(ctx context.Context, activeAt time.Time) ([]*qgate.Grant, error) {
	q := `SELECT ` + grantColumns + ` FROM grants`
	var args []any
	if !activeAt.IsZero() {
		q += ` WHERE revoked_at IS NULL AND expires_at > ?`
		args = append(args, clampNano(activeAt))
	}
	q += ` ORDER BY created_at DESC, id DESC`
	return queryList(ctx, db.r, "list grants", q, args, scanGrant)
}

// RevokeGrant ends a grant at the given time (Now if zero). ENOTFOUND if
// none; revoking twice keeps the first time.
func (db *DB) RevokeGrant(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	res, err := db.w.ExecContext(ctx,
		`UPDATE grants SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, encTime(at), id)
	return updatedOne("revoke grant", "grant", id, res, err)
}

func scanGrant(s rowScanner) (*qgate.Grant, error) {
	var (
		g                         qgate.Grant
		created, expires, revoked sql.NullInt64
	)
	err := s.Scan(&g.ID, &g.TokenID, &g.Target, &g.Shape, &g.ReviewID, &g.CreatedBy,
		&created, &expires, &revoked)
	if err != nil {
		return nil, err
	}
	g.CreatedAt = decTime(created)
	g.ExpiresAt = decTime(expires)
	g.RevokedAt = decTime(revoked)
	return &g, nil
}
