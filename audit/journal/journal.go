//go:build unix && !aix

package journal

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Entry is one journaled entry: its sequence number and its bytes.
type Entry struct {
	Seq  int64
	Data []byte
}

var (
	// ErrLocked is returned by Open when another process holds the
	// journal file's lock.
	ErrLocked = errors.New("journal: file is locked by another process")

	// ErrFull is returned by Append when the record does not fit before
	// the end of the file. Nothing was written: the caller must Rewind,
	// once everything written so far is applied, and try again.
	ErrFull = errors.New("journal: file is full")

	// ErrTooLarge is returned by Append when the record would be larger
	// than the whole file, so it could never fit.
	ErrTooLarge = errors.New("journal: record is larger than the file")
)

var (
	errNotStarted = errors.New("journal: Append before Start")
	errNoEntries  = errors.New("journal: Append of no entries")
	errSeqRange   = errors.New("journal: sequence numbers exhausted")
	errClosed     = errors.New("journal: closed")
)

// MinSize is the smallest size Open accepts.
const MinSize = 4096

// A Journal is an open journal file.
//
// A Journal is not safe for concurrent use: one goroutine at a time may
// call its methods, and Close is called once, when it is done with.
type Journal struct {
	f       *os.File
	fd      int // f's descriptor, kept to fdatasync without going through os
	size    int64
	pending []Entry

	started bool
	nonce   uint64 // the current lap's nonce
	off     int64  // where the next record goes
	next    int64  // sequence number of the next entry
	last    int64  // sequence number of the last entry written or pending
	buf     []byte // record buffer, reused so Append does not allocate
	err     error  // set once a write or sync fails, or on Close

	// direct, when the filesystem allows it, writes records with
	// O_DIRECT|O_DSYNC: whole pages, from a page-aligned buffer, each
	// write durable when it returns. Records are packed as ever, so the
	// page that holds the end of the last record is written again with
	// the next one: dbuf[:off%pageSize] keeps its bytes.
	direct *os.File
	dbuf   []byte
}

// openDirectFile is openDirect; tests replace it to write without
// O_DIRECT, as on filesystems that refuse it.
var openDirectFile = openDirect

// pageSize is the unit of direct writes: their offset, length and buffer
// address are multiples of it (it covers the logical block size of every
// common device).
const pageSize = 4096

// Open opens or creates (mode 0600) the journal file at path, locks it
// against other processes until Close, and reads the entries of the last
// run, which Pending then returns.
//
// If the file is shorter than size bytes, Open writes zeros up to size and
// syncs it (and its directory, if Open created it). A file longer than size
// is used at its own length. size must be at least MinSize.
//
// If another process holds the lock, Open fails at once with an error
// satisfying errors.Is(err, ErrLocked). The lock is an flock(2) lock, which
// belongs to an open file, so a second Open of the same path in the same
// process fails too.
func Open(path string, size int64) (*Journal, error) {
	if size < MinSize {
		return nil, fmt.Errorf("journal: size %d is below the minimum of %d", size, MinSize)
	}
	f, created, err := openFile(path)
	if err != nil {
		return nil, err
	}
	j, err := open(f, path, size, created)
	if err != nil {
		f.Close() // also releases the lock, if taken
		return nil, err
	}
	return j, nil
}

// openFile opens path for reading and writing, creating it if need be, and
// reports whether it did create it, in which case its directory entry must
// be synced too.
func openFile(path string) (f *os.File, created bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	return f, false, nil
}

// open does the work of Open on f, the file just opened at path: it locks
// it, extends it to size if shorter, and scans it.
func open(f *os.File, path string, size int64, created bool) (*Journal, error) {
	fd := int(f.Fd())
	if err := flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("journal: lock %s: %w", path, err)
	}

	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if fi.Size() < size {
		if err := extend(f, fi.Size(), size); err != nil {
			return nil, err
		}
		if created {
			if err := syncDir(filepath.Dir(path)); err != nil {
				return nil, err
			}
		}
	} else {
		size = fi.Size()
	}

	pending, err := scan(f, size, chunkSize)
	if err != nil {
		return nil, err
	}
	j := &Journal{f: f, fd: fd, size: size, pending: pending}
	if d := openDirectFile(path); d != nil {
		j.direct = d
		j.size = size &^ (pageSize - 1) // a direct write never goes past the end
	}
	if len(pending) > 0 {
		j.last = pending[len(pending)-1].Seq
	}
	return j, nil
}

// extend writes zeros to f from offset from up to size, and syncs it.
//
// Writing zeros, rather than truncating the file to size (which leaves a
// hole) or using fallocate (which leaves unwritten extents), makes every
// block of the file allocated and initialized, so that each later record
// is a plain overwrite and its fdatasync has no metadata to write.
func extend(f *os.File, from, size int64) error {
	zeros := make([]byte, min(size-from, 1<<20))
	for off := from; off < size; {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("journal: preallocate: %w", err)
		}
		off += n
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal: preallocate: %w", err)
	}
	return nil
}

// syncDir syncs the directory dir, so that a file just created in it
// survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	err = d.Sync()
	d.Close()
	if err != nil {
		return fmt.Errorf("journal: sync directory: %w", err)
	}
	return nil
}

// Pending returns the entries Open found, in order of sequence number. The
// caller replays those above the mark it has applied, before Start, which
// lets them go.
func (j *Journal) Pending() []Entry {
	return j.pending
}

// Start makes the journal writable, once the pending entries are applied.
// The next record goes to offset 0, under a new nonce, and the first entry
// written gets sequence number next, or the last pending sequence number
// plus one if that is higher (sequence numbers are always at least 1).
func (j *Journal) Start(next int64) {
	j.pending = nil // replayed: not kept for the life of the process
	j.started = true
	j.next = max(next, j.last+1, 1)
	j.Rewind()
}

// Append writes one record holding entries at the current offset and
// syncs it to disk (one write, one fdatasync). It returns the sequence
// number of the first entry; the others follow it in order.
//
// It returns ErrFull, having written nothing, when the record does not fit
// before the end of the file, and ErrTooLarge when it could never fit.
// Entries may be empty, but there must be at least one.
//
// If the write or the sync fails, the file's contents are unknown from
// then on, so the journal is unusable: every later Append returns the same
// error. That failed Append still returns first with its error: the
// record may have reached the disk, so its entries' sequence numbers are
// used (see LastSeq).
func (j *Journal) Append(entries [][]byte) (first int64, err error) {
	switch {
	case j.err != nil:
		return 0, j.err
	case !j.started:
		return 0, errNotStarted
	case len(entries) == 0:
		return 0, errNoEntries
	}
	n := recordSize(entries)
	switch {
	case n < 0 || n > j.size:
		return 0, ErrTooLarge
	case n > j.size-j.off:
		return 0, ErrFull
	case j.next > math.MaxInt64-int64(len(entries)):
		return 0, errSeqRange
	}

	first = j.next
	err = j.write(n, entries)
	// On an error the record may be on disk all the same (a failed sync
	// says nothing of what reached it), so its sequence numbers are used
	// either way: whoever stores the entries elsewhere must cover them
	// with its mark, or a replay would store them twice.
	j.off += n
	j.next += int64(len(entries))
	j.last = j.next - 1
	return first, err
}

// write writes the record of entries, n bytes, at j.off and makes it
// durable: with one direct write of the pages it covers, or with a write
// and an fdatasync. A direct write the system refuses (EINVAL: an
// alignment it does not take) turns direct writes off for good and is
// done the other way.
func (j *Journal) write(n int64, entries [][]byte) error {
	if j.direct != nil {
		err := j.writeDirect(n, entries)
		if !errors.Is(err, unix.EINVAL) {
			if err != nil {
				j.err = fmt.Errorf("journal: write: %w", err)
			}
			return j.err
		}
		j.direct.Close()
		j.direct = nil
	}
	j.buf = appendRecord(slices.Grow(j.buf[:0], int(n)), j.nonce, j.next, entries)
	if _, err := j.f.WriteAt(j.buf, j.off); err != nil {
		j.err = fmt.Errorf("journal: write: %w", err)
		return j.err
	}
	if err := datasync(j.f, j.fd); err != nil {
		// Whether the data reached the disk is unknown, and after a failed
		// sync the kernel may have dropped the dirty pages, so a retry
		// could report success for data that is lost.
		j.err = fmt.Errorf("journal: sync: %w", err)
		return j.err
	}
	return nil
}

// writeDirect writes the pages from the one holding j.off to the one
// holding the record's end: the bytes of earlier records in the first
// page (kept in dbuf), the record, zeros to the end of the last page. It
// then keeps the last page's record bytes at the front of dbuf for the
// next record.
func (j *Journal) writeDirect(n int64, entries [][]byte) error {
	head := int(j.off % pageSize)
	total := int(recordEnd(int64(head) + n))
	if cap(j.dbuf) < total {
		j.dbuf = alignedBuffer(j.dbuf[:head], total)
	}
	buf := appendRecord(j.dbuf[:head], j.nonce, j.next, entries)
	buf = buf[:total]
	clear(buf[head+int(n):])
	start := j.off - int64(head)
	if _, err := j.direct.WriteAt(buf, start); err != nil {
		return err
	}
	end := int(int64(head)+n) &^ (pageSize - 1) // the last page's start in buf
	copy(j.dbuf[:pageSize], buf[end:total])
	return nil
}

// recordEnd rounds n up to a whole number of pages.
func recordEnd(n int64) int64 { return (n + pageSize - 1) &^ (pageSize - 1) }

// alignedBuffer returns a buffer of length len(keep) and capacity at
// least size whose first byte is page-aligned, holding keep's bytes.
func alignedBuffer(keep []byte, size int) []byte {
	b := make([]byte, size+pageSize)
	skip := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (pageSize - 1))
	b = b[skip : skip+size : skip+size]
	return append(b[:0], keep...)
}

// Rewind makes the next record go to offset 0, under a new nonce. The
// caller must only call it once every entry written so far is applied
// elsewhere: the next records overwrite them.
//
// The new nonce is what keeps the records of the lap before, which stay in
// the file after the new ones, from ever being read as part of the new lap.
func (j *Journal) Rewind() {
	j.off = 0
	old := j.nonce
	for j.nonce == old {
		var b [8]byte
		rand.Read(b[:]) // never fails; see its documentation
		j.nonce = binary.LittleEndian.Uint64(b[:])
	}
}

// Clear makes the file hold no records, for a clean stop: it overwrites
// the first record's header with zeros and syncs, so that the next Open
// finds nothing pending, and rewinds. The caller must only call it once
// every entry written so far is applied elsewhere.
func (j *Journal) Clear() error {
	if j.err != nil {
		return j.err
	}
	if j.direct != nil {
		// The first page, zeros: it holds the first record's header.
		if cap(j.dbuf) < pageSize {
			j.dbuf = alignedBuffer(nil, pageSize)
		}
		zero := j.dbuf[:pageSize]
		clear(zero)
		if _, err := j.direct.WriteAt(zero, 0); err != nil {
			j.err = fmt.Errorf("journal: clear: %w", err)
			return j.err
		}
	} else {
		var zeros [headerSize]byte
		if _, err := j.f.WriteAt(zeros[:], 0); err != nil {
			j.err = fmt.Errorf("journal: clear: %w", err)
			return j.err
		}
		if err := datasync(j.f, j.fd); err != nil {
			j.err = fmt.Errorf("journal: clear: %w", err)
			return j.err
		}
	}
	j.pending = nil
	j.Rewind()
	return nil
}

// LastSeq returns the sequence number of the last entry written, or
// before any Append the last pending one; 0 if there is none.
func (j *Journal) LastSeq() int64 {
	return j.last
}

// Size returns the size of the file, which is the space records can use.
func (j *Journal) Size() int64 {
	return j.size
}

// Close releases the lock and closes the file.
func (j *Journal) Close() error {
	if j.err == errClosed {
		return errClosed
	}
	j.err = errClosed
	// Unlock explicitly rather than relying on close: a child process
	// forked meanwhile may still share the open file, and with it the lock,
	// until it calls exec.
	uerr := flock(j.fd, unix.LOCK_UN)
	if j.direct != nil {
		j.direct.Close()
	}
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if uerr != nil {
		return fmt.Errorf("journal: unlock: %w", uerr)
	}
	return nil
}

// flock is unix.Flock, retried if a signal interrupts it.
func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}
