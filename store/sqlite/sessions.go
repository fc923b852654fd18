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

var _ qgate.SessionStore = (*DB)(nil)

const sessionColumns = `id, secret_hash, identity, groups, method, created_at, last_seen_at,
	expires_at, idle_timeout, revoked_at, source_ip, user_agent`

// sessionBySecretSQL is what every request of a signed-in browser runs;
// it is prepared once on the read pool.
const sessionBySecretSQL = `SELECT ` + sessionColumns + ` FROM sessions WHERE secret_hash = ?`

// CreateSession inserts s, setting CreatedAt and LastSeenAt from Now if
// they are zero. ECONFLICT if the id or the secret hash exists.
func (db *DB) CreateSession(ctx context.Context, s *qgate.Session) error {
	if s.ID == "" || len(s.SecretHash) == 0 || s.Identity == "" {
		return qgate.Errorf(qgate.EINVALID, "session id, secret hash and identity required")
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = db.now()
	}
	if s.LastSeenAt.IsZero() {
		s.LastSeenAt = s.CreatedAt
	}
	groups, err := encJSON(s.Groups)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	res, err := db.w.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		s.ID, s.SecretHash, s.Identity, groups, s.Method, encTime(s.CreatedAt), encTime(s.LastSeenAt),
		clampNano(s.ExpiresAt), int64(s.IdleTimeout), encTime(s.RevokedAt), s.SourceIP, s.UserAgent)
	return insertedOne("create session", "session", s.ID, res, err)
}

// Session returns the session with the public id. ENOTFOUND if none.
func (db *DB) Session(ctx context.Context, id string) (*qgate.Session, error) {
	s, err := scanSession(db.r.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, qgate.Errorf(qgate.ENOTFOUND, "session %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return s, nil
}

// SessionBySecret returns the session whose secret hash is hash.
// ENOTFOUND if none.
func (db *DB) SessionBySecret(ctx context.Context, hash []byte) (*qgate.Session, error) {
	s, err := scanSession(db.sessionBySecret.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, qgate.Errorf(qgate.ENOTFOUND, "no such session")
	} else if err != nil {
		return nil, fmt.Errorf("session by secret: %w", err)
	}
	return s, nil
}

// ListSessions returns sessions newest first.
func (db *DB) ListSessions(ctx context.Context, f qgate.SessionFilter) ([]*qgate.Session, error) {
	var where []string
	var args []any
	if f.Identity != "" {
		where = append(where, "identity = ?")
		args = append(args, f.Identity)
	}
	if !f.ActiveAt.IsZero() {
		where = append(where, "revoked_at IS NULL AND expires_at > ?")
		args = append(args, clampNano(f.ActiveAt))
	}
	q := `SELECT ` + sessionColumns + ` FROM sessions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, id`
	return queryList(ctx, db.r, "list sessions", q, args, scanSession)
}

// TouchSession records a use at the given time (Now if zero); the latest
// use wins. ENOTFOUND if none.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	res, err := db.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?) WHERE id = ?`,
		encTime(at), id)
	return updatedOne("touch session", "session", id, res, err)
}

// RevokeSession marks the session revoked at the given time (Now if zero).
// ENOTFOUND if none; revoking twice keeps the first time.
func (db *DB) RevokeSession(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	res, err := db.w.ExecContext(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`,
		encTime(at), id)
	return updatedOne("revoke session", "session", id, res, err)
}

// RevokeSessions revokes every unrevoked session of identity.
func (db *DB) RevokeSessions(ctx context.Context, identity string, at time.Time) (int, error) {
	if at.IsZero() {
		at = db.now()
	}
	res, err := db.w.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE identity = ? AND revoked_at IS NULL`,
		encTime(at), identity)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	return int(n), nil
}

// DeleteEndedSessions deletes the sessions that ended before cutoff.
func (db *DB) DeleteEndedSessions(ctx context.Context, cutoff time.Time) (int, error) {
	c := encTime(cutoff)
	res, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE revoked_at < ? OR expires_at < ?
		OR (idle_timeout > 0 AND last_seen_at + idle_timeout < ?)`, c, c, c)
	if err != nil {
		return 0, fmt.Errorf("delete ended sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete ended sessions: %w", err)
	}
	return int(n), nil
}

func scanSession(r rowScanner) (*qgate.Session, error) {
	var (
		s                      qgate.Session
		groups                 string
		created, seen, revoked sql.NullInt64
		expires, idle          int64
	)
	err := r.Scan(&s.ID, &s.SecretHash, &s.Identity, &groups, &s.Method, &created, &seen,
		&expires, &idle, &revoked, &s.SourceIP, &s.UserAgent)
	if err != nil {
		return nil, err
	}
	if s.Groups, err = decStrings(groups); err != nil {
		return nil, fmt.Errorf("session %s groups: %w", s.ID, err)
	}
	s.CreatedAt, s.LastSeenAt, s.RevokedAt = decTime(created), decTime(seen), decTime(revoked)
	s.ExpiresAt = time.Unix(0, expires).UTC()
	s.IdleTimeout = time.Duration(idle)
	return &s, nil
}
