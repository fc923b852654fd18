package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/qgate/qgate"
)

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// encTime stores t as unix nanoseconds, or NULL for the zero time. Times
// outside what an int64 of nanoseconds can hold (before 1678 or after 2262)
// are clamped, which keeps their order.
func encTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return clampNano(t)
}

func clampNano(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// decTime is the inverse of encTime.
func decTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// encJSON stores v as JSON text; a nil slice becomes "null" so that it
// comes back nil.
func encJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func decJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

// decStrings decodes a list of strings stored by encJSON. The common
// "null" and "[]" (nil and empty lists) skip the JSON decoder: every
// authenticated call reads three such lists.
func decStrings(s string) ([]string, error) {
	switch s {
	case "", "null":
		return nil, nil
	case "[]":
		return []string{}, nil
	}
	var v []string
	err := json.Unmarshal([]byte(s), &v)
	return v, err
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// queryList runs a query (on the readers, or in a transaction) and scans
// every row with scan; errors are wrapped with op.
func queryList[T any](ctx context.Context, db querier, op, q string, args []any, scan func(rowScanner) (T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// updatedOne turns the result of an UPDATE of one row, by its key, into
// an error: ENOTFOUND ("<what> <key> not found") when no row matched.
func updatedOne(op, what string, key any, res sql.Result, err error) error {
	return oneRow(op, res, err, qgate.ENOTFOUND, "%s %v not found", what, quoteKey(key))
}

// insertedOne turns the result of an INSERT ... ON CONFLICT DO NOTHING of
// one row into an error: ECONFLICT ("<what> <key> already exists") when
// the row was already there.
func insertedOne(op, what string, key any, res sql.Result, err error) error {
	return oneRow(op, res, err, qgate.ECONFLICT, "%s %v already exists", what, quoteKey(key))
}

// oneRow wraps err with op, and reports code when res changed no row.
func oneRow(op string, res sql.Result, err error, code, format string, args ...any) error {
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return qgate.Errorf(code, format, args...)
	}
	return nil
}

// quoteKey quotes string keys as %q does and leaves numbers alone.
func quoteKey(key any) any {
	if s, ok := key.(string); ok {
		return strconv.Quote(s)
	}
	return key
}
