package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"testing/fstest"
)

func TestOpen_Migrate(t *testing.T) {
	t.Run("Idempotent", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "qgate.db")
		for i := range 3 {
			db, err := Open(path)
			if err != nil {
				t.Fatalf("open %d: %v", i, err)
			}
			var n, v int
			if err := db.r.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &v); err != nil {
				t.Fatal(err)
			}
			if n != len(mustMigrations(t)) || v != SchemaVersion() {
				t.Fatalf("open %d: %d migrations recorded up to %d, want %d up to %d",
					i, n, v, len(mustMigrations(t)), SchemaVersion())
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("ErrSchemaNewer", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "qgate.db")
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future.sql', 0)`,
			SchemaVersion()+1); err != nil {
			t.Fatal(err)
		}
		db.Close()

		_, err = Open(path)
		if !errors.Is(err, ErrSchemaNewer) {
			t.Fatalf("err = %v, want ErrSchemaNewer", err)
		}
		t.Logf("refused with: %v", err)
	})
	t.Run("Pragmas", func(t *testing.T) {
		db, err := Open(filepath.Join(t.TempDir(), "qgate.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, c := range []struct {
			pool   *sql.DB
			pragma string
			want   string
		}{
			{db.w, "journal_mode", "wal"},
			{db.w, "synchronous", "2"}, // FULL
			{db.w, "foreign_keys", "1"},
			{db.w, "busy_timeout", "10000"},
			{db.r, "journal_mode", "wal"},
			{db.r, "query_only", "1"},
		} {
			var got string
			if err := c.pool.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("PRAGMA %s = %q, want %q", c.pragma, got, c.want)
			}
		}
	})
	t.Run("FailedMigrationRollsBack", func(t *testing.T) {
		// A failing migration undoes every migration applied with it.
		db, err := Open(filepath.Join(t.TempDir(), "qgate.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		v := SchemaVersion()
		ms := append(mustMigrations(t),
			migration{version: v + 1, name: "ok.sql", sql: `CREATE TABLE extra (x INTEGER);`},
			migration{version: v + 2, name: "bad.sql", sql: `CREATE TABLE extra2 (x INTEGER); SELECT * FROM missing_table;`},
		)
		if err := db.migrate(context.Background(), ms); err == nil {
			t.Fatal("migrate succeeded")
		}
		var n, max int
		if err := db.r.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('extra', 'extra2')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := db.r.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&max); err != nil {
			t.Fatal(err)
		}
		if n != 0 || max != v {
			t.Fatalf("after a failed migration: %d new tables, version %d; want 0 and %d", n, max, v)
		}
	})
	t.Run("Gap", func(t *testing.T) {
		// A migration numbered below one already applied still runs: a
		// database migrated by a build with 0001 and 0003 gets 0002 from a
		// build that has all three.
		db, err := Open(filepath.Join(t.TempDir(), "qgate.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		v := SchemaVersion()
		early := migration{version: v + 1, name: "early.sql", sql: `CREATE TABLE early (x INTEGER);`}
		late := migration{version: v + 2, name: "late.sql", sql: `CREATE TABLE late (x INTEGER);`}
		if err := db.migrate(context.Background(), append(mustMigrations(t), late)); err != nil {
			t.Fatal(err)
		}
		if err := db.migrate(context.Background(), append(mustMigrations(t), early, late)); err != nil {
			t.Fatalf("migrate with the gap filled: %v", err)
		}
		var n, recorded int
		if err := db.r.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('early', 'late')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := db.r.QueryRow(`SELECT COUNT(*) FROM schema_migrations WHERE version IN (?, ?)`, v+1, v+2).Scan(&recorded); err != nil {
			t.Fatal(err)
		}
		if n != 2 || recorded != 2 {
			t.Fatalf("after filling the gap: %d tables, %d recorded; want 2 and 2", n, recorded)
		}
		// A build that lacks a recorded migration refuses the file, even
		// when it knows a higher one.
		err = db.migrate(context.Background(), append(mustMigrations(t), late))
		if !errors.Is(err, ErrSchemaNewer) {
			t.Fatalf("migrate without a recorded migration: err = %v, want ErrSchemaNewer", err)
		}
	})
	t.Run("LoadOrder", func(t *testing.T) {
		ms, err := loadMigrations(fstest.MapFS{
			"m/0010_c.sql": {Data: []byte(`c`)},
			"m/0002_b.sql": {Data: []byte(`b`)},
			"m/0001_a.sql": {Data: []byte(`a`)},
			"m/README":     {Data: []byte(`not a migration`)},
		}, "m")
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, m := range ms {
			got = append(got, m.version)
		}
		if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 10 {
			t.Fatalf("versions = %v, want [1 2 10]", got)
		}
	})
	t.Run("BadNames", func(t *testing.T) {
		for _, fsys := range []fstest.MapFS{
			{"m/init.sql": {}},
			{"m/0001_a.sql": {}, "m/1_b.sql": {}},
		} {
			if _, err := loadMigrations(fsys, "m"); err == nil {
				t.Errorf("loadMigrations(%v) succeeded", fsys)
			}
		}
	})
}

func mustMigrations(tb testing.TB) []migration {
	tb.Helper()
	ms, err := migrations()
	if err != nil {
		tb.Fatal(err)
	}
	return ms
}
