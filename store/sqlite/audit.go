package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/internal/jsonenc"
)

var _ qgate.AuditStore = (*DB)(nil)

const lastAuditSQL = `SELECT last_seq, last_hash FROM audit_blocks ORDER BY first_seq DESC LIMIT 1`

const insertBlockSQL = `INSERT INTO audit_blocks (first_seq, last_seq, min_time, max_time, last_hash, events, req_lo, req_hi)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// insertUnrangedBlockSQL stores a block of migration 0005, which runs
// before the range columns exist.
const insertUnrangedBlockSQL = `INSERT INTO audit_blocks (first_seq, last_seq, min_time, max_time, last_hash, events)
	VALUES (?, ?, ?, ?, ?, ?)`

// A block's lookup rows go in with one statement each, the keys as a JSON
// array: one statement per key cost more than the block itself.
const (
	insertRequestSQL = `INSERT OR IGNORE INTO audit_requests (request_id, first_seq) SELECT value, ? FROM json_each(?)`
	insertReviewSQL  = `INSERT OR IGNORE INTO audit_reviews (review_id, first_seq) SELECT value, ? FROM json_each(?)`
)

// maxKeptBatch bounds the events (and, times 1 KiB, the block text) whose
// buffers AppendAudit keeps for the next append: a rare huge batch does
// not pin its memory.
const maxKeptBatch = 4096

// blockPage is how many blocks one query reads, so that a slow caller
// never holds one read transaction open for the whole log.
const blockPage = 16

// AppendAudit appends events in order, in one transaction: it reads the
// last stored (seq, hash), gives each event the next Seq, the previous
// Hash as PrevHash and its own ChainHash as Hash, and stores them as one
// block. It returns only once the transaction is committed (and, with
// synchronous=FULL, on disk), and sets those fields on the events only
// then. A zero Time becomes Now; Time is stored, and set, in UTC at
// nanosecond precision. Data must be empty or valid JSON (EINVALID); it is
// stored byte for byte. Bytes of string fields that are not valid UTF-8
// are stored as U+FFFD.
func (db *DB) AppendAudit(ctx context.Context, events []*qgate.AuditEvent) error {
	return db.appendAudit(ctx, events, 0)
}

// AppendAuditMarked is AppendAudit that also records, in the same
// transaction, that the audit journal is applied up to sequence number
// mark (see AuditJournalMark). A mark lower than the one stored leaves it.
func (db *DB) AppendAuditMarked(ctx context.Context, events []*qgate.AuditEvent, mark int64) error {
	if mark <= 0 {
		return qgate.Errorf(qgate.EINVALID, "append audit: journal mark %d is not positive", mark)
	}
	return db.appendAudit(ctx, events, mark)
}

// AuditJournalMark returns the journal sequence number recorded by the
// last AppendAuditMarked, 0 if none.
func (db *DB) AuditJournalMark(ctx context.Context) (int64, error) {
	var mark int64
	err := db.w.QueryRowContext(ctx, `SELECT applied FROM audit_journal WHERE id = 1`).Scan(&mark)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("audit journal mark: %w", err)
	}
	return mark, nil
}

// AuditJournalPath is where a gateway on this database keeps its audit
// journal (package audit/journal): the database's file name followed by
// "-audit-journal", or "" for a database that is not a plain file name.
func (db *DB) AuditJournalPath() string { return besidePath(db.path, "-audit-journal") }

// removeAuditJournal deletes the audit journal beside the database, if
// there is one.
func (db *DB) removeAuditJournal() error {
	p := db.AuditJournalPath()
	if p == "" {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the audit journal of an earlier database: %w", err)
	}
	return nil
}

// markJournalSQL records how far the audit journal is applied, never
// moving the mark back.
const markJournalSQL = `INSERT INTO audit_journal (id, applied) VALUES (1, ?)
	ON CONFLICT (id) DO UPDATE SET applied = max(applied, excluded.applied)`

// appendAudit is AppendAudit, recording the journal mark too when it is
// positive.
func (db *DB) appendAudit(ctx context.Context, events []*qgate.AuditEvent, mark int64) error {
	if len(events) == 0 && mark == 0 {
		return nil
	}
	for i, e := range events {
		if e == nil {
			return qgate.Errorf(qgate.EINVALID, "audit event %d is nil", i)
		}
		if len(e.Data) > 0 && !jsonenc.Valid(e.Data) {
			return qgate.Errorf(qgate.EINVALID, "audit event %d: data is not valid JSON", i)
		}
	}

	db.auditMu.Lock()
	defer db.auditMu.Unlock()

	// The writer's buffers are kept between appends (under auditMu): a
	// batch's text and events are hundreds of kilobytes under load, which
	// the garbage collector would otherwise zero and collect every time.
	chained := slices.Grow(db.chainBuf[:0], len(events))[:len(events)]
	defer func() {
		clear(chained) // drop the callers' strings and data
		if cap(chained) <= maxKeptBatch {
			db.chainBuf = chained[:0]
		}
	}()
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var lastSeq int64
		var lastHash string
		err := tx.StmtContext(ctx, db.lastAudit).QueryRowContext(ctx).Scan(&lastSeq, &lastHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		now := db.now()
		for i, e := range events {
			c := *e
			if c.Time.IsZero() {
				c.Time = now
			}
			c.Time = time.Unix(0, c.Time.UnixNano()).UTC()
			if len(c.Data) == 0 {
				c.Data = nil
			}
			for _, s := range []*string{&c.Type, &c.Action, &c.RequestID, &c.TokenID, &c.Identity, &c.Target, &c.Environment} {
				*s = validUTF8(*s)
			}
			c.Seq = lastSeq + 1
			c.PrevHash = lastHash
			c.Hash = c.ChainHash()
			chained[i] = c
			lastSeq, lastHash = c.Seq, c.Hash
		}
		if mark > 0 {
			if _, err := tx.ExecContext(ctx, markJournalSQL, mark); err != nil {
				return fmt.Errorf("journal mark: %w", err)
			}
		}
		if len(chained) == 0 {
			return nil
		}
		b := newBlock(chained, db.blockBuf, true)
		if cap(b.text) <= maxKeptBatch*1024 {
			db.blockBuf = b.text[:0]
		}
		return db.insertBlock(ctx, tx, b)
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	for i, e := range events {
		*e = chained[i]
	}
	return nil
}

// insertBlock stores b and its lookup rows, with the prepared statements
// once Open has prepared them (a migration runs before).
func (db *DB) insertBlock(ctx context.Context, tx *sql.Tx, b block) error {
	exec := func(st *sql.Stmt, q string, args ...any) error {
		var err error
		if st == nil {
			_, err = tx.ExecContext(ctx, q, args...)
		} else {
			_, err = tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		}
		return err
	}
	// The text goes in as TEXT, as it always has, without copying it
	// into a Go string first (hundreds of KB per batch under load): the
	// driver copies it into SQLite during the call, and b.text is not
	// changed before the next append (under auditMu).
	text := unsafe.String(unsafe.SliceData(b.text), len(b.text))
	var err error
	if b.ranged {
		err = exec(db.addBlock, insertBlockSQL, b.first, b.last, b.minTime, b.maxTime, b.lastHash, text, b.reqLo, b.reqHi)
	} else {
		err = exec(nil, insertUnrangedBlockSQL, b.first, b.last, b.minTime, b.maxTime, b.lastHash, text)
	}
	if err != nil {
		return fmt.Errorf("seq %d..%d: %w", b.first, b.last, err)
	}
	if len(b.requests) > 0 {
		if err := exec(db.addRequest, insertRequestSQL, b.first, string(jsonenc.AppendStrings(nil, b.requests))); err != nil {
			return fmt.Errorf("seq %d..%d: requests: %w", b.first, b.last, err)
		}
	}
	if len(b.reviews) > 0 {
		ids := []byte{'['}
		for i, id := range b.reviews {
			if i > 0 {
				ids = append(ids, ',')
			}
			ids = strconv.AppendInt(ids, id, 10)
		}
		if err := exec(db.addReview, insertReviewSQL, b.first, string(append(ids, ']'))); err != nil {
			return fmt.Errorf("seq %d..%d: reviews: %w", b.first, b.last, err)
		}
	}
	return nil
}

// ListAudit returns the events matching f, oldest first unless f.Desc.
// Since is inclusive and Until exclusive; AfterSeq selects seq > AfterSeq
// and BeforeSeq seq < BeforeSeq.
//
// A request or review filter reads only the blocks that hold its events;
// any other filter reads blocks in seq order (newest first with Desc),
// skipping blocks whose text cannot hold a match, until Limit events
// matched.
func (db *DB) ListAudit(ctx context.Context, f qgate.AuditFilter) ([]*qgate.AuditEvent, error) {
	var out []*qgate.AuditEvent
	done := func() bool { return f.Limit > 0 && len(out) >= f.Limit }
	var needles [][]byte
	for _, n := range [][2]string{{"token_id", f.TokenID}, {"identity", f.Identity}, {"target", f.Target},
		{"environment", f.Environment}, {"type", f.Type}, {"action", f.Action}, {"request_id", f.RequestID}} {
		if b := fieldNeedle(n[0], n[1]); b != nil {
			needles = append(needles, b)
		}
	}
	visit := func(first int64, text []byte) (bool, error) {
		for _, n := range needles {
			if !bytes.Contains(text, n) {
				return false, nil
			}
		}
		all, err := decodeBlock(first, text)
		if err != nil {
			return true, err
		}
		var events []*qgate.AuditEvent
		for i := range all {
			if auditMatches(&f, &all[i]) {
				events = append(events, &all[i])
			}
		}
		if f.Desc {
			slices.Reverse(events)
		}
		for _, e := range events {
			if done() {
				break
			}
			out = append(out, e)
		}
		return done(), nil
	}

	var err error
	switch {
	case f.RequestID != "":
		q, args := `SELECT first_seq FROM audit_requests WHERE request_id = ?`, []any{f.RequestID}
		if ms, ok := uuidV7Millis(f.RequestID); ok {
			// And the blocks whose range holds it: their ranges start at
			// most requestRangeSpan before it (blockMeta).
			q += ` UNION SELECT first_seq FROM audit_blocks WHERE req_lo >= ? AND req_lo <= ? AND req_hi >= ?`
			args = append(args, requestRangeFloor(ms), f.RequestID, f.RequestID)
		}
		err = db.indexedBlocks(ctx, q, args, f.Desc, visit)
	case f.ReviewID != 0:
		err = db.indexedBlocks(ctx, `SELECT first_seq FROM audit_reviews WHERE review_id = ?`, []any{f.ReviewID}, f.Desc, visit)
	default:
		q := allBlocks()
		if err := db.after(ctx, &q, f.AfterSeq); err != nil {
			return nil, err
		}
		if f.BeforeSeq > 0 {
			q.hi = min(q.hi, f.BeforeSeq-1)
		}
		// A time bound also becomes a seq bound, found through the time
		// indexes, so that a listing of the last hour does not read
		// every older block to find that it is older.
		if !f.Since.IsZero() {
			lo, ok, err := db.seqBound(ctx, sinceSeqSQL, clampNano(f.Since))
			if err != nil || !ok {
				return nil, err
			}
			q.lo = max(q.lo, lo)
			q.where, q.args = append(q.where, "max_time >= ?"), append(q.args, clampNano(f.Since))
		}
		if !f.Until.IsZero() {
			hi, ok, err := db.seqBound(ctx, untilSeqSQL, clampNano(f.Until))
			if err != nil || !ok {
				return nil, err
			}
			q.hi = min(q.hi, hi)
			q.where, q.args = append(q.where, "min_time < ?"), append(q.args, clampNano(f.Until))
		}
		err = db.blocks(ctx, q, f.Desc, func(b *block) (bool, error) {
			return visit(b.first, b.text)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

// The seq bounds of a time range: the first block that may hold an event
// at or after a time, and the last that may hold one before a time. Both
// read only the index entries on their side of the time: SQLite's own
// choice, the primary key, would read every block from the other end.
const (
	sinceSeqSQL = `SELECT MIN(first_seq) FROM audit_blocks INDEXED BY audit_blocks_time WHERE max_time >= ?`
	untilSeqSQL = `SELECT MAX(first_seq) FROM audit_blocks INDEXED BY audit_blocks_min_time WHERE min_time < ?`
)

// after narrows q to the blocks holding events after seq (none when seq
// is not positive): from the block holding seq on, found through the
// primary key since last_seq has no index, and with last_seq > seq.
func (db *DB) after(ctx context.Context, q *blockQuery, seq int64) error {
	if seq <= 0 {
		return nil
	}
	var first int64
	err := db.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(first_seq), 0) FROM audit_blocks WHERE first_seq <= ?`, seq).Scan(&first)
	q.lo = max(q.lo, first)
	q.where, q.args = append(q.where, "last_seq > ?"), append(q.args, seq)
	return err
}

// seqBound runs a MIN or MAX query over audit_blocks; ok is false when no
// block qualifies.
func (db *DB) seqBound(ctx context.Context, q string, t int64) (seq int64, ok bool, err error) {
	var n sql.NullInt64
	if err := db.r.QueryRowContext(ctx, q, t).Scan(&n); err != nil {
		return 0, false, fmt.Errorf("list audit: %w", err)
	}
	return n.Int64, n.Valid, nil
}

// auditMatches reports whether e passes every field of f but Limit and
// Desc.
func auditMatches(f *qgate.AuditFilter, e *qgate.AuditEvent) bool {
	str := func(want, got string) bool { return want == "" || want == got }
	t := e.Time.UnixNano()
	return str(f.TokenID, e.TokenID) && str(f.Identity, e.Identity) && str(f.Target, e.Target) &&
		str(f.Environment, e.Environment) && str(f.Type, e.Type) && str(f.Action, e.Action) &&
		str(f.RequestID, e.RequestID) &&
		(f.ReviewID == 0 || f.ReviewID == e.ReviewID) &&
		(f.Since.IsZero() || t >= clampNano(f.Since)) &&
		(f.Until.IsZero() || t < clampNano(f.Until)) &&
		(f.AfterSeq <= 0 || e.Seq > f.AfterSeq) &&
		(f.BeforeSeq <= 0 || e.Seq < f.BeforeSeq)
}

// indexedBlocks calls visit for each block that q (a query of first_seq
// values over the lookup tables and request id ranges, with args) lists,
// in seq order (newest first with desc), until visit says stop.
func (db *DB) indexedBlocks(ctx context.Context, q string, args []any, desc bool,
	visit func(first int64, text []byte) (bool, error)) error {
	if desc {
		q += ` ORDER BY first_seq DESC`
	} else {
		q += ` ORDER BY first_seq`
	}
	firsts, err := queryList(ctx, db.r, "audit lookup", q, args, func(s rowScanner) (int64, error) {
		var n int64
		return n, s.Scan(&n)
	})
	if err != nil {
		return err
	}
	for _, first := range firsts {
		var text []byte
		err := db.r.QueryRowContext(ctx, `SELECT events FROM audit_blocks WHERE first_seq = ?`, first).Scan(&text)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("audit lookup lists block %d, which does not exist: %w", first, errEdited)
		} else if err != nil {
			return err
		}
		if stop, err := visit(first, text); err != nil || stop {
			return err
		}
	}
	return nil
}

// blockQuery selects blocks: those whose first_seq is within [lo, hi]
// and that match every condition of where (SQL over audit_blocks' other
// columns, with args).
type blockQuery struct {
	lo, hi int64
	where  []string
	args   []any
}

// allBlocks selects every block: seqs start at 1, and the bounds stay
// clear of overflow when the page cursor steps past them.
func allBlocks() blockQuery { return blockQuery{lo: 0, hi: math.MaxInt64 - 1} }

// blocks calls fn for each block q selects, in seq order (newest first
// with desc), until fn says stop. It reads blockPage blocks per query;
// the blocks fn gets have no lookup keys (requests, reviews).
func (db *DB) blocks(ctx context.Context, q blockQuery, desc bool, fn func(*block) (bool, error)) error {
	if q.lo > q.hi {
		return nil
	}
	query, cursor, bound := blocksQuery(q.where, desc), q.lo-1, q.hi
	if desc {
		cursor, bound = q.hi+1, q.lo
	}
	for {
		page, err := queryList(ctx, db.r, "audit blocks", query, append(slices.Clip(q.args), cursor, bound, blockPage),
			func(s rowScanner) (*block, error) {
				var b block
				var lo, hi sql.NullString
				err := s.Scan(&b.first, &b.last, &b.minTime, &b.maxTime, &b.lastHash, &b.text, &lo, &hi)
				// One column NULL and not the other is no block qgate
				// writes: checkBlock reports it (ranged, but lo unset).
				b.ranged, b.reqLo, b.reqHi = hi.Valid, lo.String, hi.String
				if lo.Valid != hi.Valid {
					b.reqLo = "\x00"
				}
				return &b, err
			})
		if err != nil {
			return err
		}
		for _, b := range page {
			if stop, err := fn(b); err != nil || stop {
				return err
			}
		}
		if len(page) < blockPage {
			return nil
		}
		cursor = page[len(page)-1].first
	}
}

// blocksQuery is the query of one page of blocks: the page cursor and the
// far end of the range are the only bounds on first_seq, one on each side,
// so SQLite seeks to the cursor through the primary key on every page.
// (With a second lower bound of its own, SQLite seeked to that one and
// filtered the cursor, reading the log from its start for every page: a
// full scan took minutes on a million events.) where holds the other
// conditions; the query takes args, then cursor, far end and page size.
func blocksQuery(where []string, desc bool) string {
	seek, order := "first_seq > ? AND first_seq <= ?", ""
	if desc {
		seek, order = "first_seq < ? AND first_seq >= ?", " DESC"
	}
	return `SELECT first_seq, last_seq, min_time, max_time, last_hash, events, req_lo, req_hi FROM audit_blocks WHERE ` +
		strings.Join(append(slices.Clip(where), seek), " AND ") + ` ORDER BY first_seq` + order + ` LIMIT ?`
}

// ScanAudit calls fn for every stored event with seq > afterSeq, in seq
// order, exactly as stored. It reads a few blocks at a time, so fn may be
// slow without holding a read transaction open. It stops at fn's first
// error and returns it unwrapped.
//
// It also checks what the hash chain cannot: that each block's text is
// exactly what qgate writes for its events and that the block's columns
// agree with them, and, on a scan of the whole chain (afterSeq 0), that the
// lookup tables hold exactly the rows those events call for. So no edit
// outside qgate can hide an event from a filtered listing without being
// reported. A block's problem is an error returned after fn has seen the
// block's events (so a broken chain is reported first); the lookup tables
// are checked at the end.
func (db *DB) ScanAudit(ctx context.Context, afterSeq int64, fn func(*qgate.AuditEvent) error) error {
	var errFn error
	var want lookupSums
	lastFirst := int64(-1)
	q := allBlocks()
	if err := db.after(ctx, &q, afterSeq); err != nil {
		return fmt.Errorf("scan audit: %w", err)
	}
	err := db.blocks(ctx, q, false, func(b *block) (bool, error) {
		events, err := decodeBlock(b.first, b.text)
		if err != nil {
			return true, err
		}
		for i := range events {
			if events[i].Seq <= afterSeq {
				continue
			}
			if err := fn(&events[i]); err != nil {
				errFn = err
				return true, err
			}
		}
		meta, err := checkBlock(b, events)
		want.addBlock(meta)
		lastFirst = b.first
		return false, err
	})
	if errFn != nil {
		return errFn
	}
	if err == nil && afterSeq <= 0 {
		err = db.checkLookups(ctx, lastFirst, want)
	}
	if err != nil {
		return fmt.Errorf("scan audit: %w", err)
	}
	return nil
}

// checkBlock compares a stored block's columns with what its events say
// (its text is already known to be exactly what qgate writes for them:
// decodeBlock), and returns the latter.
func checkBlock(got *block, events []qgate.AuditEvent) (block, error) {
	want := blockMeta(events, got.ranged)
	if got.first != want.first || got.last != want.last || got.minTime != want.minTime ||
		got.maxTime != want.maxTime || got.lastHash != want.lastHash || got.reqLo != want.reqLo || got.reqHi != want.reqHi {
		return want, fmt.Errorf("audit block %d: its columns do not match its events: %w", got.first, errEdited)
	}
	return want, nil
}

var errEdited = errors.New("the database was edited outside qgate")

// lookupSums is an order-independent digest of lookup rows: each row's
// SHA-256, added lane by lane. Equal sums mean equal sets of rows, short
// of finding a multi-way collision of SHA-256.
type lookupSums struct{ requests, reviews [4]uint64 }

func addLookup(sum *[4]uint64, key string, first int64) {
	h := sha256.Sum256(strconv.AppendInt(append([]byte(key), 0), first, 10))
	for i := range sum {
		sum[i] += binary.LittleEndian.Uint64(h[8*i:])
	}
}

func (s *lookupSums) addBlock(b block) {
	for _, id := range b.requests {
		addLookup(&s.requests, id, b.first)
	}
	for _, id := range b.reviews {
		addLookup(&s.reviews, strconv.FormatInt(id, 10), b.first)
	}
}

// checkLookups compares the lookup rows of blocks up to lastFirst (those
// a scan read; newer ones may have been appended since) with want.
func (db *DB) checkLookups(ctx context.Context, lastFirst int64, want lookupSums) error {
	var got lookupSums
	for _, t := range []struct {
		table string
		sum   *[4]uint64
		want  [4]uint64
	}{{"audit_requests", &got.requests, want.requests}, {"audit_reviews", &got.reviews, want.reviews}} {
		col := "request_id"
		if t.table == "audit_reviews" {
			col = "CAST(review_id AS TEXT)"
		}
		rows, err := db.r.QueryContext(ctx, `SELECT `+col+`, first_seq FROM `+t.table+` WHERE first_seq <= ?`, lastFirst)
		if err != nil {
			return err
		}
		for rows.Next() {
			var key string
			var first int64
			if err := rows.Scan(&key, &first); err != nil {
				rows.Close()
				return err
			}
			addLookup(t.sum, key, first)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if *t.sum != t.want {
			return fmt.Errorf("the lookup table %s does not match the events: %w", t.table, errEdited)
		}
	}
	return nil
}
