package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Token changes are announced through a file beside the database,
// <file>-tokens: every revocation or rotation, once committed, appends one
// byte to it, so its size is a version that grows with every change, in
// whatever process made it. A gateway compares that version, one stat
// call, with the one it saw when it read a token, instead of reading the
// token again on every call (auth.TokenVersioner). The file is created
// empty when a gateway first asks. The file holds nothing
// else. Deleting it is harmless: at worst a gateway keeps a token for
// auth.VersionedCacheTTL (one second) before reading it again.

// tokenSignalPath is the announcement file of a database path, or "" for
// a database that is not a plain file name (an in-memory database, a URI
// with options).
func tokenSignalPath(path string) string {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return ""
	}
	return path + "-tokens"
}

// announceTokenChange appends to the announcement file after a committed
// token change. If that fails the change stands, but gateways in other
// processes may keep accepting the old token state for up to
// a second (auth.VersionedCacheTTL), so the caller hears of it (op names the change;
// repeating a revocation or rotation announces it again).
func (db *DB) announceTokenChange(op string) error {
	path := tokenSignalPath(db.path)
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		_, err = f.Write([]byte{'\n'})
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		return fmt.Errorf("%s: done, but running gateways could not be told at once (they see it within a second): %w",
			op, err)
	}
	return nil
}

// tokenSignal reads the announcement file's size through an open handle:
// fstat on a descriptor costs a fraction of stat on a path, and every
// authenticated call asks. A file deleted or replaced since it was opened
// (no links left) is opened again by name.
type tokenSignal struct {
	path string
	f    atomic.Pointer[os.File]
	mu   sync.Mutex // serialises reopening
}

// version is TokensVersion for the announcement file.
func (s *tokenSignal) version() (uint64, bool) {
	if f := s.f.Load(); f != nil {
		if fi, err := f.Stat(); err == nil && linked(fi) {
			return uint64(fi.Size()) + 2, true
		}
	}
	return s.reopen()
}

// reopen opens the announcement file by name, creating it empty if it
// does not exist yet, so that later calls can use the handle. A database
// directory qgate cannot write to still works: the file is then read by
// name on every call.
func (s *tokenSignal) reopen() (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		f, err = os.Open(s.path)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 1, true
		}
		return 0, false
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, false
	}
	if old := s.f.Swap(f); old != nil {
		old.Close()
	}
	return uint64(fi.Size()) + 2, true
}

func (s *tokenSignal) close() {
	if f := s.f.Swap(nil); f != nil {
		f.Close()
	}
}

// TokensVersion returns the size of the announcement file plus two (one
// when it does not exist and cannot be created); ok is false when it
// cannot be read, or the database is not a plain file.
func (db *DB) TokensVersion() (version uint64, ok bool) {
	if db.tokens == nil {
		return 0, false
	}
	return db.tokens.version()
}
