package sqlite

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
// token change (op names it). It is best effort: the change stands either
// way, and if the file cannot be written the failure is logged, and
// gateways in other processes see the change when they next read the
// token, within auth.VersionedCacheTTL (a second). Repeating a revocation
// or rotation announces it again.
func (db *DB) announceTokenChange(op string) {
	path := tokenSignalPath(db.path)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = f.Write([]byte{'\n'})
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		db.logger().Warn(op+": done, but running gateways could not be told at once (they see it within a second)",
			"file", path, "err", err)
	}
}

// tokenSignal reads the announcement file's size through an open handle:
// fstat on a descriptor costs a fraction of stat on a path, and every
// authenticated call asks. A file deleted or replaced since it was opened
// (no links left) is opened again by name.
type tokenSignal struct {
	path     string
	f        atomic.Pointer[os.File]
	mu       sync.Mutex   // serialises reopening
	failedAt atomic.Int64 // unix nanoseconds of the last failed reopen
	missing  atomic.Bool  // that failure was a missing file (version 1)
}

// reopenBackoff is how long after a failed reopen version says it cannot
// tell, without trying again: a file qgate may not open would otherwise
// cost every authenticated call two failed opens under mu.
const reopenBackoff = time.Second

// version is TokensVersion for the announcement file.
func (s *tokenSignal) version() (uint64, bool) {
	if f := s.f.Load(); f != nil {
		if fi, err := f.Stat(); err == nil && linked(fi) {
			return uint64(fi.Size()) + 2, true
		}
	}
	if t := s.failedAt.Load(); t != 0 && time.Since(time.Unix(0, t)) < reopenBackoff {
		if s.missing.Load() {
			return 1, true
		}
		return 0, false
	}
	return s.reopen()
}

// reopen opens the announcement file by name, creating it empty if it
// does not exist yet, so that later calls can use the handle. When it
// cannot be opened (a directory qgate cannot write to, a file it may not
// read), the failure stands for reopenBackoff before the next try.
func (s *tokenSignal) reopen() (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(missing bool) (uint64, bool) {
		s.missing.Store(missing)
		s.failedAt.Store(time.Now().UnixNano())
		if missing {
			return 1, true
		}
		return 0, false
	}
	f, err := os.OpenFile(s.path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		f, err = os.Open(s.path)
	}
	if err != nil {
		return fail(errors.Is(err, fs.ErrNotExist))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fail(false)
	}
	s.failedAt.Store(0)
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
