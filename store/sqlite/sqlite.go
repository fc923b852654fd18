package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/qgate/qgate"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// busyTimeout is how long a statement waits for another process's write
// lock before failing with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// maxReaders bounds the read pool.
const maxReaders = 8

var _ qgate.Store = (*DB)(nil)

// DB is a qgate.Store on one SQLite file. Create it with Open.
type DB struct {
	// Now is the clock, used for timestamps the caller left zero.
	Now func() time.Time
	// Logger receives what the store only warns about (nil: slog.Default):
	// a token change it could not announce to other processes.
	Logger *slog.Logger

	path   string
	tokens *tokenSignal // nil when the database is not a plain file
	w      *sql.DB      // exactly one connection: every write goes here
	r      *sql.DB      // query-only connections

	// Statements AppendAudit runs in every transaction, prepared once.
	lastAudit, addBlock, addRequest, addReview *sql.Stmt
	// tokenByID is Token's query (every authenticated call runs it),
	// prepared once on the read pool.
	tokenByID *sql.Stmt
	// sessionBySecret is SessionBySecret's query (every request of a
	// signed-in browser runs it), prepared once on the read pool.
	sessionBySecret *sql.Stmt

	// auditMu serialises AppendAudit within the process; BEGIN IMMEDIATE
	// serialises it across processes. It guards the buffers AppendAudit
	// reuses.
	auditMu  sync.Mutex
	chainBuf []qgate.AuditEvent
	blockBuf []byte
}

// Open opens (creating if needed) the SQLite database at path, a file
// name such as ./qgate.db, and applies any pending migrations. It fails
// with ErrSchemaNewer if the file was migrated by a newer qgate.
func Open(path string) (*DB, error) {
	if path == "" {
		return nil, qgate.Errorf(qgate.EINVALID, "open store: sqlite: empty path")
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db := &DB{Now: time.Now, path: path}
	if p := tokenSignalPath(path); p != "" {
		db.tokens = &tokenSignal{path: p}
	}

	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", busyTimeout.Milliseconds())

	var err error
	db.w, err = sql.Open("sqlite", path+sep+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)

	ctx := context.Background()
	ms, err := migrations()
	if err == nil {
		err = db.migrate(ctx, ms)
	}
	if err != nil {
		db.w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{{&db.lastAudit, lastAuditSQL}, {&db.addBlock, insertBlockSQL}, {&db.addRequest, insertRequestSQL}, {&db.addReview, insertReviewSQL}} {
		if *p.st, err = db.w.PrepareContext(ctx, p.q); err != nil {
			break
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	db.r, err = sql.Open("sqlite", path+sep+common+"&_pragma=query_only(1)")
	if err != nil {
		db.w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.r.SetMaxOpenConns(maxReaders)
	db.r.SetMaxIdleConns(maxReaders)
	if err := db.r.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if db.tokenByID, err = db.r.PrepareContext(ctx, tokenByIDSQL); err == nil {
		db.sessionBySecret, err = db.r.PrepareContext(ctx, sessionBySecretSQL)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, nil
}

// createPrivate creates a database file that does not exist yet, empty
// (SQLite takes an empty file for a new database) and readable by its
// owner only: it holds the audit log, token and session hashes, and SQLite
// would create it world-readable. Its -wal and -shm files take the same
// mode. An existing file keeps its mode.
func createPrivate(path string) error {
	if besidePath(path, "") == "" {
		return nil // in memory, or a URI: SQLite's to open
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

func (db *DB) logger() *slog.Logger {
	if db.Logger == nil {
		return slog.Default()
	}
	return db.Logger
}

// Path returns the file name the database was opened with.
func (db *DB) Path() string { return db.path }

// Close closes both connection pools.
func (db *DB) Close() error {
	if db.tokens != nil {
		db.tokens.close()
	}
	var errs []error
	for _, st := range []*sql.Stmt{db.lastAudit, db.addBlock, db.addRequest, db.addReview, db.tokenByID, db.sessionBySecret} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// now returns the current time from the injected clock, in UTC.
func (db *DB) now() time.Time { return db.Now().UTC() }

// inTx runs fn in a write transaction, committing if it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
