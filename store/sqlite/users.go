package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/qgate/qgate"
)

var _ qgate.UserStore = (*DB)(nil)

const userColumns = `name, email, password_hash, created_at, updated_at, disabled_at`

// CreateUser inserts u, setting CreatedAt from Now if it is zero.
// ECONFLICT if the name exists.
func (db *DB) CreateUser(ctx context.Context, u *qgate.User) error {
	if u.Name == "" {
		return qgate.Errorf(qgate.EINVALID, "user name required")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = db.now()
	}
	res, err := db.w.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING`,
		u.Name, u.Email, u.PasswordHash, encTime(u.CreatedAt), encTime(u.UpdatedAt), encTime(u.DisabledAt))
	return insertedOne("create user", "user", u.Name, res, err)
}

// User returns the named user. ENOTFOUND if none.
func (db *DB) User(ctx context.Context, name string) (*qgate.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, qgate.Errorf(qgate.ENOTFOUND, "user %q not found", name)
	} else if err != nil {
		return nil, fmt.Errorf("user: %w", err)
	}
	return u, nil
}

// ListUsers returns every user ordered by name.
func (db *DB) ListUsers(ctx context.Context) ([]*qgate.User, error) {
	return queryList(ctx, db.r, "list users", `SELECT `+userColumns+` FROM users ORDER BY name`, nil, scanUser)
}

// SetUserPassword replaces the password hash. ENOTFOUND if none.
func (db *DB) SetUserPassword(ctx context.Context, name, hash string, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	res, err := db.w.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?`,
		hash, encTime(at), name)
	return updatedOne("set user password", "user", name, res, err)
}

// DisableUser marks the user disabled at the given time (Now if zero).
// ENOTFOUND if none; disabling twice keeps the first time.
func (db *DB) DisableUser(ctx context.Context, name string, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	res, err := db.w.ExecContext(ctx, `UPDATE users SET disabled_at = COALESCE(disabled_at, ?) WHERE name = ?`,
		encTime(at), name)
	return updatedOne("disable user", "user", name, res, err)
}

func scanUser(s rowScanner) (*qgate.User, error) {
	var u qgate.User
	var created, updated, disabled sql.NullInt64
	if err := s.Scan(&u.Name, &u.Email, &u.PasswordHash, &created, &updated, &disabled); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt, u.DisabledAt = decTime(created), decTime(updated), decTime(disabled)
	return &u, nil
}
