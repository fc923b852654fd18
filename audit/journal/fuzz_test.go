//go:build unix && !aix

package journal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func FuzzScan(f *testing.F) {
	valid := func(nonce uint64) []byte {
		var b []byte
		b = appendRecord(b, nonce, 1, [][]byte{[]byte("one"), {}})
		b = appendRecord(b, nonce, 3, [][]byte{entry(200, 'x')})
		b = appendRecord(b, nonce, 4, [][]byte{[]byte("a"), []byte("bc"), []byte("def")})
		return b
	}
	good := valid(0x0123456789abcdef)
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 0x10
	// A new lap of one record over the old one: only it is pending.
	relapped := slices.Clone(good)
	copy(relapped, appendRecord(nil, 7, 10, [][]byte{[]byte("one")}))

	if got := len(refScan(good)); got != 6 {
		f.Fatalf("valid seed has %d entries, want 6", got)
	}
	if got := len(refScan(relapped)); got != 1 {
		f.Fatalf("relapped seed has %d entries, want 1", got)
	}

	f.Add([]byte{})
	f.Add(make([]byte, MinSize))
	f.Add(good)
	f.Add(flipped)
	f.Add(relapped)

	f.Fuzz(func(t *testing.T, data []byte) {
		file := data
		if len(file) < MinSize {
			file = append(slices.Clone(data), make([]byte, MinSize-len(data))...)
		}
		want := refScan(file)

		path := filepath.Join(t.TempDir(), "journal")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := Open(path, MinSize)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		checkPending(t, j, want)

		// Small chunks make records straddle the read window's edges.
		for _, chunk := range []int64{1, 7, 64} {
			got, err := scan(bytes.NewReader(file), int64(len(file)), chunk)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, j.Pending(), func(a, b Entry) bool {
				return a.Seq == b.Seq && bytes.Equal(a.Data, b.Data)
			}) {
				t.Fatalf("scan with %d-byte chunks: %s, want %s", chunk, fmtEntries(got), fmtEntries(want))
			}
		}
	})
}

// refScan is a plain reading of the format, written apart from scan to
// check it: it returns the entries of the chain of records at the start of
// file.
func refScan(file []byte) []Entry {
	var (
		entries []Entry
		nonce   uint64
	)
	le := binary.LittleEndian
	for off := 0; len(file)-off >= 32; {
		rec := file[off:]
		if string(rec[:4]) != "QGJ1" {
			break
		}
		n := le.Uint64(rec[4:])
		first := int64(le.Uint64(rec[12:]))
		count := le.Uint32(rec[20:])
		length := le.Uint32(rec[24:])
		if first <= 0 || count == 0 || first+int64(count) < first || uint64(length) > uint64(len(rec)-32) {
			break
		}
		if off == 0 {
			nonce = n
		} else if n != nonce || first != entries[len(entries)-1].Seq+1 {
			break
		}
		rec = rec[:32+length]
		crc := crc32.Checksum(append(slices.Clone(rec[:28]), rec[32:]...), crc32.MakeTable(crc32.Castagnoli))
		if crc != le.Uint32(rec[28:]) {
			break
		}
		var got []Entry
		p := rec[32:]
		for len(p) > 0 {
			l, k := binary.Uvarint(p)
			if k <= 0 || l > uint64(len(p)-k) {
				break
			}
			got = append(got, Entry{first + int64(len(got)), p[k : k+int(l)]})
			p = p[k+int(l):]
		}
		if len(p) > 0 || len(got) != int(count) {
			break
		}
		entries = append(entries, got...)
		off += len(rec)
	}
	return entries
}
