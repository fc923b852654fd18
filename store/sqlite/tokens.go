package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/qgate/qgate"
)

var _ qgate.TokenStore = (*DB)(nil)

const tokenColumns = `id, name, identity, roles, targets, environments,
	secret_hash, prev_secret_hash, prev_valid_until, scram, prev_scram,
	created_at, expires_at, revoked_at, last_used`

const tokenByIDSQL = `SELECT ` + tokenColumns + ` FROM tokens WHERE id = ?`

// CreateToken inserts t, setting CreatedAt from Now if it is zero.
// ECONFLICT if the id exists.
func (db *DB) CreateToken(ctx context.Context, t *qgate.Token) error {
	if t.ID == "" {
		return qgate.Errorf(qgate.EINVALID, "token id required")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = db.now()
	}
	roles, err := encJSON(t.Roles)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	targets, err := encJSON(t.Targets)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	envs, err := encJSON(t.Environments)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	res, err := db.w.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		t.ID, t.Name, t.Identity, roles, targets, envs,
		t.SecretHash, t.PrevSecretHash, encTime(t.PrevValidUntil), t.SCRAM, t.PrevSCRAM,
		encTime(t.CreatedAt), encTime(t.ExpiresAt), encTime(t.RevokedAt), encTime(t.LastUsed))
	return insertedOne("create token", "token", t.ID, res, err)
}

// Token returns the token with id. ENOTFOUND if none.
func (db *DB) Token(ctx context.Context, id string) (*qgate.Token, error) {
	t, err := scanToken(db.tokenByID.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, qgate.Errorf(qgate.ENOTFOUND, "token %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return t, nil
}

// ListTokens returns tokens ordered by creation time, then id.
func (db *DB) ListTokens(ctx context.Context, f qgate.TokenFilter) ([]*qgate.Token, error) {
	var where []string
	var args []any
	if f.Identity != "" {
		where = append(where, "identity = ?")
		args = append(args, f.Identity)
	}
	if !f.IncludeRevoked {
		where = append(where, "revoked_at IS NULL")
	}
	q := `SELECT ` + tokenColumns + ` FROM tokens`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at, id`

	return queryList(ctx, db.r, "list tokens", q, args, scanToken)
}

// RevokeToken marks the token revoked at the given time (Now if zero).
// ENOTFOUND if none; revoking twice keeps the first time.
func (db *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	res, err := db.w.ExecContext(ctx,
		`UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, encTime(at), id)
	if err := updatedOne("revoke token", "token", id, res, err); err != nil {
		return err
	}
	db.announceTokenChange("revoke token")
	return nil
}

// RotateToken makes hash and scram the token's secret; the previous ones
// stay valid until graceUntil, or not at all if it is zero. ENOTFOUND if
// none.
func (db *DB) RotateToken(ctx context.Context, id string, hash []byte, scram string, graceUntil time.Time) error {
	var res sql.Result
	var err error
	if graceUntil.IsZero() {
		res, err = db.w.ExecContext(ctx, `UPDATE tokens SET
			prev_secret_hash = NULL, prev_scram = '', prev_valid_until = NULL,
			secret_hash = ?, scram = ?
			WHERE id = ?`, hash, scram, id)
	} else {
		res, err = db.w.ExecContext(ctx, `UPDATE tokens SET
			prev_secret_hash = secret_hash, prev_scram = scram, prev_valid_until = ?,
			secret_hash = ?, scram = ?
			WHERE id = ?`, encTime(graceUntil), hash, scram, id)
	}
	if err := updatedOne("rotate token", "token", id, res, err); err != nil {
		return err
	}
	db.announceTokenChange("rotate token")
	return nil
}

// TouchToken records a use at the given time; the latest use wins.
// ENOTFOUND if none.
func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	res, err := db.w.ExecContext(ctx,
		`UPDATE tokens SET last_used = MAX(COALESCE(last_used, ?1), ?1) WHERE id = ?2`, encTime(at), id)
	return updatedOne("touch token", "token", id, res, err)
}

func scanToken(s rowScanner) (*qgate.Token, error) {
	var (
		t                                    qgate.Token
		roles, targets, envs                 string
		prevValid, created, expires, revoked sql.NullInt64
		lastUsed                             sql.NullInt64
	)
	err := s.Scan(&t.ID, &t.Name, &t.Identity, &roles, &targets, &envs,
		&t.SecretHash, &t.PrevSecretHash, &prevValid, &t.SCRAM, &t.PrevSCRAM,
		&created, &expires, &revoked, &lastUsed)
	if err != nil {
		return nil, err
	}
	if t.Roles, err = decStrings(roles); err != nil {
		return nil, fmt.Errorf("token %s roles: %w", t.ID, err)
	}
	if t.Targets, err = decStrings(targets); err != nil {
		return nil, fmt.Errorf("token %s targets: %w", t.ID, err)
	}
	if t.Environments, err = decStrings(envs); err != nil {
		return nil, fmt.Errorf("token %s environments: %w", t.ID, err)
	}
	t.PrevValidUntil = decTime(prevValid)
	t.CreatedAt = decTime(created)
	t.ExpiresAt = decTime(expires)
	t.RevokedAt = decTime(revoked)
	t.LastUsed = decTime(lastUsed)
	return &t, nil
}
