package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/store/sqlite"
	"github.com/qgate/qgate/store/storetest"
)

// MustOpen opens a new database in a temporary directory and closes it
// when tb ends.
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return MustOpenAt(tb, filepath.Join(tb.TempDir(), "qgate.db"))
}

// MustOpenAt opens the database at path (another handle, when it is open
// already: another process's view) and closes it when tb ends.
func MustOpenAt(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

func TestDB_Store(t *testing.T) {
	storetest.Run(t, func(t *testing.T) qgate.Store { return MustOpen(t) })
}

func TestDB_SlackMessages(t *testing.T) {
	storetest.RunSlackMessages(t, func(t *testing.T) storetest.SlackMessageStore { return MustOpen(t) })
}

// TestOpen_PrivateFiles: a new database and its WAL are readable by their
// owner only (they hold the audit log and token hashes); an existing
// file keeps the mode its owner gave it.
func TestOpen_PrivateFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "qgate.db")
	db := MustOpenAt(t, path)
	if _, err := db.Token(context.Background(), "nope"); qgate.ErrorCode(err) != qgate.ENOTFOUND {
		t.Fatalf("Token on the new database: %v", err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(p), m)
		}
	}

	shared := filepath.Join(dir, "shared.db")
	if err := os.WriteFile(shared, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	MustOpenAt(t, shared)
	if fi, err := os.Stat(shared); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("existing file: %v, %v; want its mode 640 kept", fi.Mode(), err)
	}

	if _, err := sqlite.Open(filepath.Join(dir, "missing", "qgate.db")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("open in a missing directory: %v", err)
	}
}
