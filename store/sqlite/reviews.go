package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/qgate/qgate"
)

var _ qgate.ReviewStore = (*DB)(nil)

const reviewColumns = `id, status, protocol, target, environment, request_id,
	requester, token_id, source_ip, payload, payload_hash, shape, decision,
	votes, reason, created_at, expires_at, decided_at, executed_at, version`

// CreateReview inserts r and sets its ID and Version (1). A zero Status
// becomes pending and a zero CreatedAt becomes Now.
func (db *DB) CreateReview(ctx context.Context, r *qgate.Review) error {
	if r.Status == "" {
		r.Status = qgate.ReviewPending
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = db.now()
	}
	decision, votes, err := encReviewJSON(r)
	if err != nil {
		return fmt.Errorf("create review: %w", err)
	}
	var id int64
	err = db.w.QueryRowContext(ctx, `INSERT INTO reviews (`+strings.TrimPrefix(reviewColumns, "id, ")+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
		RETURNING id`,
		r.Status, r.Protocol, r.Target, r.Environment, r.RequestID,
		r.Requester, r.TokenID, r.SourceIP, r.Payload, r.PayloadHash, r.Shape, decision,
		votes, r.Reason, encTime(r.CreatedAt), encTime(r.ExpiresAt), encTime(r.DecidedAt), encTime(r.ExecutedAt),
	).Scan(&id)
	if err != nil {
		return fmt.Errorf("create review: %w", err)
	}
	r.ID, r.Version = id, 1
	return nil
}

// Review returns the review with id. ENOTFOUND if none.
func (db *DB) Review(ctx context.Context, id int64) (*qgate.Review, error) {
	r, err := scanReview(db.r.QueryRowContext(ctx, `SELECT `+reviewColumns+` FROM reviews WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, qgate.Errorf(qgate.ENOTFOUND, "review %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	return r, nil
}

// ListReviews returns the reviews matching f, newest first, at most
// f.Limit of them if it is positive.
func (db *DB) ListReviews(ctx context.Context, f qgate.ReviewFilter) ([]*qgate.Review, error) {
	var where []string
	var args []any
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.Target != "" {
		where = append(where, "target = ?")
		args = append(args, f.Target)
	}
	if f.Requester != "" {
		where = append(where, "requester = ?")
		args = append(args, f.Requester)
	}
	q := `SELECT ` + reviewColumns + ` FROM reviews`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}

	return queryList(ctx, db.r, "list reviews", q, args, scanReview)
}

// UpdateReview stores every field of r but ID and CreatedAt if the stored
// version still equals r.Version, then increments r.Version. ECONFLICT if
// another update won, ENOTFOUND if there is no such review.
func (db *DB) UpdateReview(ctx context.Context, r *qgate.Review) error {
	decision, votes, err := encReviewJSON(r)
	if err != nil {
		return fmt.Errorf("update review: %w", err)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE reviews SET
		status = ?, protocol = ?, target = ?, environment = ?, request_id = ?,
		requester = ?, token_id = ?, source_ip = ?, payload = ?, payload_hash = ?,
		shape = ?, decision = ?, votes = ?, reason = ?, expires_at = ?,
		decided_at = ?, executed_at = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		r.Status, r.Protocol, r.Target, r.Environment, r.RequestID,
		r.Requester, r.TokenID, r.SourceIP, r.Payload, r.PayloadHash,
		r.Shape, decision, votes, r.Reason, encTime(r.ExpiresAt),
		encTime(r.DecidedAt), encTime(r.ExecutedAt),
		r.ID, r.Version)
	if err != nil {
		return fmt.Errorf("update review: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update review: %w", err)
	}
	if n == 0 {
		var stored int
		err := db.r.QueryRowContext(ctx, `SELECT version FROM reviews WHERE id = ?`, r.ID).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return qgate.Errorf(qgate.ENOTFOUND, "review %d not found", r.ID)
		} else if err != nil {
			return fmt.Errorf("update review: %w", err)
		}
		return qgate.Errorf(qgate.ECONFLICT, "review %d changed: version %d, not %d", r.ID, stored, r.Version)
	}
	r.Version++
	return nil
}

func encReviewJSON(r *qgate.Review) (decision, votes string, err error) {
	if decision, err = encJSON(r.Decision); err != nil {
		return "", "", fmt.Errorf("decision: %w", err)
	}
	if votes, err = encJSON(r.Votes); err != nil {
		return "", "", fmt.Errorf("votes: %w", err)
	}
	return decision, votes, nil
}

func scanReview(s rowScanner) (*qgate.Review, error) {
	var (
		r                                   qgate.Review
		decision, votes                     string
		created, expires, decided, executed sql.NullInt64
	)
	err := s.Scan(&r.ID, &r.Status, &r.Protocol, &r.Target, &r.Environment, &r.RequestID,
		&r.Requester, &r.TokenID, &r.SourceIP, &r.Payload, &r.PayloadHash, &r.Shape, &decision,
		&votes, &r.Reason, &created, &expires, &decided, &executed, &r.Version)
	if err != nil {
		return nil, err
	}
	if err := decJSON(decision, &r.Decision); err != nil {
		return nil, fmt.Errorf("review %d decision: %w", r.ID, err)
	}
	if err := decJSON(votes, &r.Votes); err != nil {
		return nil, fmt.Errorf("review %d votes: %w", r.ID, err)
	}
	r.CreatedAt = decTime(created)
	r.ExpiresAt = decTime(expires)
	r.DecidedAt = decTime(decided)
	r.ExecutedAt = decTime(executed)
	return &r, nil
}
