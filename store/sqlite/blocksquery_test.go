package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestBlocksQuery_SeeksToTheCursor: every page of a block listing or scan
// seeks to its cursor through the primary key, with both ends bounded, so
// reading the whole log reads each block once. A plan that searches on
// one bound only (as when a second lower bound sat next to the cursor)
// reads the log from its start for every page.
func TestBlocksQuery_SeeksToTheCursor(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "qgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct {
		name  string
		where []string
		args  []any
		desc  bool
	}{
		{"Scan", []string{"last_seq > ?"}, []any{10}, false},
		{"Since", []string{"max_time >= ?"}, []any{1}, false},
		{"SinceDesc", []string{"max_time >= ?"}, []any{1}, true},
		{"UntilDesc", []string{"min_time < ?"}, []any{1}, true},
		{"Everything", nil, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append(c.args, 5, 100, blockPage)
			rows, err := db.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+blocksQuery(c.where, c.desc), args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			got := strings.Join(plan, "; ")
			if !strings.Contains(got, "INTEGER PRIMARY KEY (rowid>? AND rowid<?)") {
				t.Fatalf("plan %q does not seek between the two bounds", got)
			}
		})
	}
}
