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
// whatever process made it. A gateway compares that version, one fstat
// call at most every TokenVersionRecheck, with the one it saw when it read
// a token, instead of reading the token again on every call
// (auth.TokenVersioner). A change made through the same DB (the gateway's
// own API and web UI) is seen at the next call; one made by another
// process (qgate token revoke) within TokenVersionRecheck. The file is
// created empty when a gateway first asks. The file holds nothing else.
// Deleting it is harmless: at worst a gateway keeps a token for
// auth.VersionedCacheTTL (one second) before reading it again.

// TokenVersionRecheck is how long TokensVersion answers with the version
// it last read from the announcement file before it reads it again: under
// load that saves an fstat per call (about 2 µs of a gateway's CPU time
// per call), and a change announced by another process acts that much
// later.
const TokenVersionRecheck = time.Millisecond

// tokenSignalPath is the announcement file of a database path, or "" for
// a database that is not a plain file name.
func tokenSignalPath(path string) string { return besidePath(path, "-tokens") }

// besidePath is the name of a file kept beside the database at path: the
// path with suffix appended, or "" for a database that is not a plain
// file name (an in-memory database, a URI with options).
func besidePath(path, suffix string) string {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return ""
	}
	return path + suffix
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
	if db.tokens != nil {
		db.tokens.changed() // this process's next call reads the file again
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

	seen atomic.Pointer[seenVersion] // the last version read
	gen  atomic.Uint64               // counts changed calls
	// reading is set while a caller reads the file for a version only
	// due for a look (not one this process made stale).
	reading atomic.Bool
}

// seenVersion is a version read from the file, when (on the monotonic
// clock), and the tokenSignal's gen at the time: a change announced by
// this process since makes it stale at once.
type seenVersion struct {
	v   uint64
	at  time.Duration
	gen uint64
}

// monoEpoch anchors monotonic readings: time.Since(monoEpoch) never goes
// back, whatever the wall clock does.
var monoEpoch = time.Now()

// changed makes the next version call read the file: this process has
// just announced a change.
func (s *tokenSignal) changed() { s.gen.Add(1) }

// reopenBackoff is how long after a failed reopen version says it cannot
// tell, without trying again: a file qgate may not open would otherwise
// cost every authenticated call two failed opens under mu.
const reopenBackoff = time.Second

// version is TokensVersion: the version read less than
// TokenVersionRecheck ago, unless this process announced a change since,
// or else the file's.
func (s *tokenSignal) version() (uint64, bool) {
	gen, now := s.gen.Load(), time.Since(monoEpoch)
	p := s.seen.Load()
	if p != nil && p.gen == gen {
		if now-p.at < TokenVersionRecheck {
			return p.v, true
		}
		// Only due for a look: one caller reads the file, and the
		// others, arriving meanwhile, answer with the version it read
		// a moment ago, instead of each making the same fstat call.
		if !s.reading.CompareAndSwap(false, true) {
			return p.v, true
		}
		defer s.reading.Store(false)
	}
	v, ok := s.read()
	if ok {
		// Stored with the gen from before the read: had a change been
		// announced during it, the next call reads again.
		s.seen.Store(&seenVersion{v: v, at: now, gen: gen})
	}
	return v, ok
}

// read reads the version from the announcement file.
func (s *tokenSignal) read() (uint64, bool) {
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
