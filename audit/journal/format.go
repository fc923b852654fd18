//go:build unix && !aix

package journal

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"math/bits"
)

const (
	magic      = "QGJ1"
	headerSize = 32
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the fixed-size start of a record.
type header struct {
	nonce  uint64
	first  int64
	count  uint32
	length uint32
	crc    uint32
}

// parseHeader decodes b[:headerSize] and checks the fields that can be
// checked without the payload.
func parseHeader(b []byte) (h header, ok bool) {
	if string(b[0:4]) != magic {
		return h, false
	}
	h = header{
		nonce:  binary.LittleEndian.Uint64(b[4:]),
		first:  int64(binary.LittleEndian.Uint64(b[12:])),
		count:  binary.LittleEndian.Uint32(b[20:]),
		length: binary.LittleEndian.Uint32(b[24:]),
		crc:    binary.LittleEndian.Uint32(b[28:]),
	}
	// The last entry's sequence number, and the next record's first,
	// must fit in an int64.
	if h.first <= 0 || h.count == 0 || h.first > math.MaxInt64-int64(h.count) {
		return h, false
	}
	return h, true
}

// checkRecord reports whether rec, a whole record whose header is h, has
// the right checksum and a payload of exactly h.count entries.
func checkRecord(rec []byte, h header) bool {
	if recordCRC(rec) != h.crc {
		return false
	}
	p := rec[headerSize:]
	for range h.count {
		var ok bool
		if _, p, ok = cutEntry(p); !ok {
			return false
		}
	}
	return len(p) == 0
}

// recordCRC returns the checksum of rec: its header up to the crc field,
// then its payload.
func recordCRC(rec []byte) uint32 {
	crc := crc32.Update(0, castagnoli, rec[:28])
	return crc32.Update(crc, castagnoli, rec[headerSize:])
}

// cutEntry splits the first entry off the payload p. It fails, rather than
// panicking, on a malformed length or one that runs past the end of p.
func cutEntry(p []byte) (entry, rest []byte, ok bool) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return nil, nil, false
	}
	end := k + int(n)
	return p[k:end:end], p[end:], true
}

// recordSize returns the size of a record holding entries, or -1 if its
// payload is too long for the length field.
func recordSize(entries [][]byte) int64 {
	var n int64
	for _, e := range entries {
		n += int64(uvarintLen(uint64(len(e))) + len(e))
	}
	if n > math.MaxUint32 {
		return -1
	}
	return headerSize + n
}

func uvarintLen(x uint64) int {
	return (bits.Len64(x|1) + 6) / 7
}

// appendRecord appends to dst the record holding entries, numbered from
// first.
func appendRecord(dst []byte, nonce uint64, first int64, entries [][]byte) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = binary.LittleEndian.AppendUint64(dst, nonce)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(first))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(entries)))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // length, set below
	dst = binary.LittleEndian.AppendUint32(dst, 0) // crc, set below
	for _, e := range entries {
		dst = binary.AppendUvarint(dst, uint64(len(e)))
		dst = append(dst, e...)
	}
	rec := dst[start:]
	binary.LittleEndian.PutUint32(rec[24:], uint32(len(rec)-headerSize))
	binary.LittleEndian.PutUint32(rec[28:], recordCRC(rec))
	return dst
}
