//go:build unix && !aix

package journal

import (
	"fmt"
	"io"
)

// scan reads the chain of records that starts at offset 0 of r, a file of
// size bytes, and returns its entries (see the package comment for which
// records belong to the chain).
//
// It reads the file chunk bytes at a time and stops at the first record
// outside the chain, so when few entries are pending it reads little more
// than those. It never sizes anything by a length or count field before
// checking the field against the file size, so whatever the contents, what
// it allocates is bounded by the file size: a read window (one chunk, or
// one record if larger), a copy of the chain's payloads, and one Entry per
// entry found, each of which takes at least one byte of the file.
func scan(r io.ReaderAt, size, chunk int64) ([]Entry, error) {
	w := window{r: r, size: size, chunk: chunk}
	var (
		payloads []byte // the chain's payloads, back to back
		first    int64  // sequence number of the chain's first entry
		count    int64  // entries in the chain so far
		nonce    uint64 // the chain's nonce
	)
	for off := int64(0); size-off >= headerSize; {
		b, err := w.read(off, headerSize)
		if err != nil {
			return nil, err
		}
		h, ok := parseHeader(b)
		if !ok || int64(h.length) > size-off-headerSize {
			break
		}
		if off == 0 {
			nonce, first = h.nonce, h.first
		} else if h.nonce != nonce || h.first != first+count {
			break
		}
		rec, err := w.read(off, headerSize+int64(h.length))
		if err != nil {
			return nil, err
		}
		if !checkRecord(rec, h) {
			break
		}
		payloads = append(payloads, rec[headerSize:]...)
		count += int64(h.count)
		off += int64(len(rec))
	}
	if count == 0 {
		return nil, nil
	}

	// The payloads were all checked above, so this cannot fail. The entries
	// point into payloads, which is never written again.
	entries := make([]Entry, 0, count)
	for p := payloads; len(p) > 0; {
		var e []byte
		e, p, _ = cutEntry(p)
		entries = append(entries, Entry{Seq: first + int64(len(entries)), Data: e})
	}
	return entries, nil
}

// chunkSize is how much of the file Open reads at a time: enough for many
// records per system call, little next to a journal of tens of MiB.
const chunkSize = 1 << 20

// window holds a stretch of a file so that scan can read small records
// without a system call each.
type window struct {
	r     io.ReaderAt
	size  int64
	chunk int64  // how much to read at a time
	buf   []byte // the file's bytes [base, base+len(buf))
	base  int64
}

// read returns the file's bytes [off, off+n), which must lie within the
// file. The result is only valid until the next call. Reads are expected
// to move forwards: bytes before off are dropped when the window moves.
func (w *window) read(off, n int64) ([]byte, error) {
	end := w.base + int64(len(w.buf))
	if off >= w.base && off+n <= end {
		return w.buf[off-w.base : off-w.base+n], nil
	}

	// Keep what we already have from off on, and read up to a chunk (or n,
	// if more) past off, but never past the end of the file.
	var keep []byte
	if off >= w.base && off < end {
		keep = w.buf[off-w.base:]
	}
	want := min(max(n, w.chunk), w.size-off)
	buf := w.buf
	if int64(cap(buf)) < want {
		buf = make([]byte, want)
	}
	buf = buf[:want]
	kept := copy(buf, keep) // may overlap keep; copy allows that
	if _, err := w.r.ReadAt(buf[kept:], off+int64(kept)); err != nil {
		return nil, fmt.Errorf("journal: scan: %w", err)
	}
	w.buf, w.base = buf, off
	return buf[:n], nil
}
