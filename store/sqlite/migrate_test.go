package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
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

// TestMigrate_AuditBlocks: migration 0005 moves a chain written one row
// per event into blocks, byte for byte, and the chain goes on from there.
func TestMigrate_AuditBlocks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "qgate.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	old := &DB{Now: time.Now, w: raw}
	var before []migration
	for _, m := range mustMigrations(t) {
		if m.version < 5 {
			before = append(before, m)
		}
	}
	if err := old.migrate(ctx, before); err != nil {
		t.Fatal(err)
	}
	const n = 600 // two full blocks of legacyBlock and a part
	var want []*qgate.AuditEvent
	prev := ""
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for i := range n {
		e := &qgate.AuditEvent{Seq: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Millisecond), Type: qgate.AuditRequest,
			Action: "allow", RequestID: fmt.Sprintf("r%d", i/2), TokenID: "tok1", Identity: "alice", Target: "db1", PrevHash: prev}
		switch i % 7 {
		case 0:
			e.Data = []byte("{\"sql\": \"SELECT 1\",\n \"x\": [ ]}")
		case 3:
			e.ReviewID = int64(i)
		}
		e.Hash = e.ChainHashV1() // what qgate wrote then
		prev = e.Hash
		if _, err := raw.Exec(`INSERT INTO audit_events (seq, time, type, action, request_id, token_id, identity,
			target, environment, review_id, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.Time.UnixNano(), e.Type, e.Action, e.RequestID, e.TokenID, e.Identity, e.Target, e.Environment,
			e.ReviewID, []byte(e.Data), e.PrevHash, e.Hash); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	raw.Close()

	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if rep, err := audit.Verify(ctx, db); err != nil || !rep.OK || rep.Events != n {
		t.Fatalf("verify after the move: %v %v", rep, err)
	}
	got, err := db.ListAudit(ctx, qgate.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("listed %d events, want %d", len(got), n)
	}
	for i := range got {
		g, w := *got[i], *want[i]
		if !g.Time.Equal(w.Time) || string(g.Data) != string(w.Data) {
			t.Fatalf("event %d: time %v data %q, want %v %q", i+1, g.Time, g.Data, w.Time, w.Data)
		}
		g.Time, w.Time, g.Data, w.Data = time.Time{}, time.Time{}, nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("event %d = %+v, want %+v", i+1, g, w)
		}
	}
	for _, f := range []qgate.AuditFilter{{RequestID: "r200"}, {ReviewID: 507}} {
		es, err := db.ListAudit(ctx, f)
		if err != nil || len(es) == 0 {
			t.Fatalf("%+v: %d events, %v", f, len(es), err)
		}
	}
	var left int
	if err := db.r.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_events'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("audit_events left behind (%d, %v)", left, err)
	}
	next := &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "after"}
	if err := db.AppendAudit(ctx, []*qgate.AuditEvent{next}); err != nil {
		t.Fatal(err)
	}
	if next.Seq != n+1 || next.PrevHash != want[n-1].Hash || !strings.HasPrefix(next.Hash, qgate.ChainHashV2Prefix) {
		t.Fatalf("next event: seq %d prev %q hash %q; want %d %q and a v2 hash", next.Seq, next.PrevHash, next.Hash, n+1, want[n-1].Hash)
	}
	if rep, err := audit.Verify(ctx, db); err != nil || !rep.OK || rep.Events != n+1 {
		t.Fatalf("verify after appending: %v %v", rep, err)
	}
	// An edit in the v1 part is still found.
	if _, err := db.w.Exec(`UPDATE audit_blocks SET events = replace(events, '"action":"allow"', '"action":"deny"') WHERE first_seq = 1`); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(ctx, db); err != nil || rep.OK || rep.BrokenSeq != 1 || !strings.Contains(rep.Problem, "hash mismatch") {
		t.Fatalf("verify after editing a v1 record: %+v %v", rep, err)
	}
}
