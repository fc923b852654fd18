package sqlite_test

import (
	"path/filepath"
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
