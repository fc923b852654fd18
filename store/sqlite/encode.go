package sqlite

import (
	"database/sql"
	"encoding/json"
	"math"
	"time"
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
