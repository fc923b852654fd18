package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/qgate/qgate"
)

var _ qgate.IdentityStore = (*DB)(nil)

// UpsertIdentity creates the identity or updates its email and kind; an
// empty email or kind keeps the stored one (issuing a token for an
// identity must not erase the e-mail Slack matches people by). The
// creation time of an existing identity is kept and written back to id.
func (db *DB) UpsertIdentity(ctx context.Context, id *qgate.Identity) error {
	if id.Name == "" {
		return qgate.Errorf(qgate.EINVALID, "identity name required")
	}
	created := id.CreatedAt
	if created.IsZero() {
		created = db.now()
	}
	var stored sql.NullInt64
	err := db.w.QueryRowContext(ctx, `INSERT INTO identities (name, email, kind, created_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET
			email = CASE excluded.email WHEN '' THEN identities.email ELSE excluded.email END,
			kind = CASE excluded.kind WHEN '' THEN identities.kind ELSE excluded.kind END
		RETURNING created_at`,
		id.Name, id.Email, id.Kind, encTime(created)).Scan(&stored)
	if err != nil {
		return fmt.Errorf("upsert identity: %w", err)
	}
	id.CreatedAt = decTime(stored)
	return nil
}

// Identity returns the named identity. ENOTFOUND if none.
func (db *DB) Identity(ctx context.Context, name string) (*qgate.Identity, error) {
	id, err := scanIdentity(db.r.QueryRowContext(ctx,
		`SELECT name, email, kind, created_at FROM identities WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, qgate.Errorf(qgate.ENOTFOUND, "identity %q not found", name)
	} else if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return id, nil
}

// ListIdentities returns identities ordered by name.
func (db *DB) ListIdentities(ctx context.Context) ([]*qgate.Identity, error) {
	return queryList(ctx, db.r, "list identities", `SELECT name, email, kind, created_at FROM identities ORDER BY name`, nil, scanIdentity)
}

func scanIdentity(s rowScanner) (*qgate.Identity, error) {
	var id qgate.Identity
	var created sql.NullInt64
	if err := s.Scan(&id.Name, &id.Email, &id.Kind, &created); err != nil {
		return nil, err
	}
	id.CreatedAt = decTime(created)
	return &id, nil
}
