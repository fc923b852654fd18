//go:build unix && !aix

package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func tempPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "journal")
}

func mustOpen(t testing.TB, path string, size int64) *Journal {
	t.Helper()
	j, err := Open(path, size)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// mustAppend appends one record of entries and returns the entries as the
// journal numbered them.
func mustAppend(t testing.TB, j *Journal, entries ...[]byte) []Entry {
	t.Helper()
	first, err := j.Append(entries)
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	for i, e := range entries {
		out = append(out, Entry{Seq: first + int64(i), Data: e})
	}
	return out
}

func checkPending(t testing.TB, j *Journal, want []Entry) {
	t.Helper()
	got := j.Pending()
	if !slices.EqualFunc(got, want, func(a, b Entry) bool {
		return a.Seq == b.Seq && bytes.Equal(a.Data, b.Data)
	}) {
		t.Fatalf("Pending:\n got %s\nwant %s", fmtEntries(got), fmtEntries(want))
	}
	wantLast := int64(0)
	if len(want) > 0 {
		wantLast = want[len(want)-1].Seq
	}
	if got := j.LastSeq(); got != wantLast {
		t.Errorf("LastSeq = %d, want %d", got, wantLast)
	}
}

func fmtEntries(es []Entry) string {
	var b bytes.Buffer
	for _, e := range es {
		if len(e.Data) > 8 {
			fmt.Fprintf(&b, "%d:%q...(%d) ", e.Seq, e.Data[:8], len(e.Data))
		} else {
			fmt.Fprintf(&b, "%d:%q ", e.Seq, e.Data)
		}
	}
	return b.String()
}

func reopen(t testing.TB, j *Journal, path string, size int64) *Journal {
	t.Helper()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return mustOpen(t, path, size)
}

func entry(n int, b byte) []byte {
	return bytes.Repeat([]byte{b}, n)
}

func TestRoundTrip(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, 64<<10)
	checkPending(t, j, nil)
	j.Start(1)

	var want []Entry
	want = append(want, mustAppend(t, j, []byte("a"))...)
	want = append(want, mustAppend(t, j, []byte{}, []byte("bc"))...)
	want = append(want, mustAppend(t, j, nil)...)
	want = append(want, mustAppend(t, j, entry(300, 'x'))...) // two-byte length
	var many [][]byte
	for i := range 20 {
		many = append(many, entry(i*7, byte('a'+i)))
	}
	want = append(want, mustAppend(t, j, many...)...)
	for i, e := range want {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has Seq %d", i, e.Seq)
		}
	}
	if got, want := j.LastSeq(), int64(len(want)); got != want {
		t.Errorf("LastSeq = %d, want %d", got, want)
	}

	j = reopen(t, j, path, 64<<10)
	defer j.Close()
	checkPending(t, j, want)
}

func TestStart(t *testing.T) {
	for _, tc := range []struct {
		pending   int // entries written by the run before
		next      int64
		wantFirst int64
	}{
		{0, 1, 1},
		{0, 0, 1},
		{0, -5, 1},
		{0, 42, 42},
		{5, 1, 6},
		{5, 6, 6},
		{5, 100, 100},
	} {
		t.Run(fmt.Sprintf("pending=%d/next=%d", tc.pending, tc.next), func(t *testing.T) {
			path := tempPath(t)
			j := mustOpen(t, path, MinSize)
			j.Start(1)
			for range tc.pending {
				mustAppend(t, j, []byte("e"))
			}
			j = reopen(t, j, path, MinSize)
			defer j.Close()
			if got := len(j.Pending()); got != tc.pending {
				t.Fatalf("%d entries pending, want %d", got, tc.pending)
			}
			j.Start(tc.next)
			if got := j.LastSeq(); got != int64(tc.pending) {
				t.Errorf("LastSeq after Start = %d, want %d", got, tc.pending)
			}
			if got := mustAppend(t, j, []byte("f"))[0].Seq; got != tc.wantFirst {
				t.Errorf("first Seq = %d, want %d", got, tc.wantFirst)
			}
		})
	}
}

// writeThree writes a journal of three records and returns them with the
// offset of each record.
func writeThree(t *testing.T, path string) (recs [][]Entry, offs []int64) {
	j := mustOpen(t, path, MinSize)
	defer j.Close()
	j.Start(1)
	var off int64
	for i, es := range [][][]byte{
		{[]byte("one"), []byte("two")},
		{entry(100, 'b')},
		{[]byte("x"), entry(200, 'c'), []byte("y")},
	} {
		recs = append(recs, mustAppend(t, j, es...))
		offs = append(offs, off)
		off += recordSize(es)
		if j.off != off {
			t.Fatalf("after record %d: offset %d, want %d", i, j.off, off)
		}
	}
	offs = append(offs, off)
	return recs, offs
}

func TestDamage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rec   int // record to damage
		at    func(start, end int64) (off, n int64)
		valid int // records still pending
	}{
		{"flip last payload", 2, func(s, e int64) (int64, int64) { return s + headerSize + 50, 1 }, 2},
		{"zero last tail", 2, func(s, e int64) (int64, int64) { return e - 3, 3 }, 2},
		{"zero last whole", 2, func(s, e int64) (int64, int64) { return s, e - s }, 2},
		{"flip last header", 2, func(s, e int64) (int64, int64) { return s + 20, 1 }, 2},
		{"flip last crc", 2, func(s, e int64) (int64, int64) { return s + 28, 1 }, 2},
		{"flip middle", 1, func(s, e int64) (int64, int64) { return s + headerSize + 10, 1 }, 1},
		{"flip first", 0, func(s, e int64) (int64, int64) { return s + 4, 1 }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tempPath(t)
			recs, offs := writeThree(t, path)
			off, n := tc.at(offs[tc.rec], offs[tc.rec+1])
			damage(t, path, off, n)

			j := mustOpen(t, path, MinSize)
			defer j.Close()
			checkPending(t, j, slices.Concat(recs[:tc.valid]...))
		})
	}
}

// damage flips the bits of the n bytes of the file at off, or zeros them
// if n > 1.
func damage(t *testing.T, path string, off, n int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n == 1 {
		b[off] ^= 0xff
	} else {
		clear(b[off : off+n])
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStaleLap(t *testing.T) {
	t.Run("same size", func(t *testing.T) {
		// The new lap ends exactly where a record of the old one starts.
		path := tempPath(t)
		j := mustOpen(t, path, MinSize)
		j.Start(1)
		for range 5 {
			mustAppend(t, j, entry(100, 'o'))
		}
		j.Rewind()
		var want []Entry
		for range 2 {
			want = append(want, mustAppend(t, j, entry(100, 'n'))...)
		}
		j = reopen(t, j, path, MinSize)
		defer j.Close()
		checkPending(t, j, want)
	})

	t.Run("smaller", func(t *testing.T) {
		path := tempPath(t)
		j := mustOpen(t, path, MinSize)
		j.Start(1)
		for range 5 {
			mustAppend(t, j, entry(300, 'o'), entry(10, 'p'))
		}
		j.Rewind()
		want := mustAppend(t, j, []byte("new"))
		j = reopen(t, j, path, MinSize)
		defer j.Close()
		checkPending(t, j, want)
	})

	t.Run("next run", func(t *testing.T) {
		path := tempPath(t)
		j := mustOpen(t, path, MinSize)
		j.Start(1)
		for range 5 {
			mustAppend(t, j, entry(20, 'o'))
		}
		j = reopen(t, j, path, MinSize)
		j.Start(1)
		want := mustAppend(t, j, entry(20, 'n'))
		j = reopen(t, j, path, MinSize)
		defer j.Close()
		checkPending(t, j, want)
	})
}

// TestChain places crafted records right after a lap's last record: only
// one with the lap's nonce and the next sequence number may join it.
func TestChain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nonce func(lap uint64) uint64
		first func(next int64) int64
		joins bool
	}{
		{"continues", func(n uint64) uint64 { return n }, func(s int64) int64 { return s }, true},
		{"other nonce", func(n uint64) uint64 { return n + 1 }, func(s int64) int64 { return s }, false},
		{"gap", func(n uint64) uint64 { return n }, func(s int64) int64 { return s + 1 }, false},
		{"overlap", func(n uint64) uint64 { return n }, func(s int64) int64 { return s - 1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tempPath(t)
			j := mustOpen(t, path, MinSize)
			j.Start(10)
			want := mustAppend(t, j, []byte("a"), []byte("b"))
			data := []byte("crafted")
			rec := appendRecord(nil, tc.nonce(j.nonce), tc.first(j.next), [][]byte{data})
			if _, err := j.f.WriteAt(rec, j.off); err != nil {
				t.Fatal(err)
			}
			if tc.joins {
				want = append(want, Entry{Seq: j.next, Data: data})
			}
			j = reopen(t, j, path, MinSize)
			defer j.Close()
			checkPending(t, j, want)
		})
	}
}

func TestFull(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, MinSize)
	defer j.Close()
	j.Start(1)

	// Records of 1000+32+2 bytes: three fit in 4096 bytes.
	for range 3 {
		mustAppend(t, j, entry(1000, 'a'))
	}
	if _, err := j.Append([][]byte{entry(1000, 'b')}); err != ErrFull {
		t.Fatalf("Append to a full journal: %v, want ErrFull", err)
	}
	if got := j.LastSeq(); got != 3 {
		t.Errorf("LastSeq after ErrFull = %d, want 3", got)
	}
	j.Rewind()
	if got := mustAppend(t, j, entry(1000, 'b'))[0].Seq; got != 4 {
		t.Errorf("first Seq after Rewind = %d, want 4", got)
	}

	// A record of exactly the file's size fits, once rewound; one byte more
	// never does.
	exact := entry(MinSize-headerSize-2, 'e')
	if _, err := j.Append([][]byte{exact}); err != ErrFull {
		t.Fatalf("Append of a file-sized record after others: %v, want ErrFull", err)
	}
	if _, err := j.Append([][]byte{append(exact, 'f')}); err != ErrTooLarge {
		t.Fatalf("Append of a record larger than the file: %v, want ErrTooLarge", err)
	}
	j.Rewind()
	want := mustAppend(t, j, exact)

	j = reopen(t, j, path, MinSize)
	defer j.Close()
	checkPending(t, j, want)
}

func TestLocked(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, MinSize)
	j2, err := Open(path, MinSize)
	if !errors.Is(err, ErrLocked) {
		if err == nil {
			j2.Close()
		}
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = mustOpen(t, path, MinSize)
	j.Close()
}

func TestPreallocate(t *testing.T) {
	path := tempPath(t)
	const size = 64 << 10
	j := mustOpen(t, path, size)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new journal file: size %d, mode %v; want %d, 0600", fi.Size(), fi.Mode(), size)
	}
	if j.Size() != size {
		t.Errorf("Size = %d, want %d", j.Size(), size)
	}
	j.Start(1)
	want := mustAppend(t, j, []byte("kept"))

	// Reopening at the same size, a smaller one or a larger one keeps the
	// records; only the larger one changes the size.
	for _, tc := range []struct{ size, want int64 }{
		{size, size},
		{MinSize, size},
		{2 * size, 2 * size},
	} {
		j = reopen(t, j, path, tc.size)
		checkPending(t, j, want)
		if j.Size() != tc.want {
			t.Errorf("Open(%d): Size = %d, want %d", tc.size, j.Size(), tc.want)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != tc.want {
			t.Errorf("Open(%d): file size %d (%v), want %d", tc.size, fi.Size(), err, tc.want)
		}
	}
	j.Close()

	if _, err := Open(path, MinSize-1); err == nil {
		t.Errorf("Open with size %d succeeded", MinSize-1)
	}
}

func TestAppendErrors(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, path, MinSize)
	if _, err := j.Append([][]byte{[]byte("early")}); err == nil {
		t.Error("Append before Start succeeded")
	}
	j.Start(1)
	if _, err := j.Append(nil); err == nil {
		t.Error("Append of no entries succeeded")
	}
	mustAppend(t, j, []byte("ok"))

	// Once a write fails, the journal stays failed.
	j.f.Close()
	if j.direct != nil {
		j.direct.Close()
	}
	last := j.LastSeq()
	first1, err1 := j.Append([][]byte{[]byte("lost"), []byte("too")})
	_, err2 := j.Append([][]byte{[]byte("lost")})
	if err1 == nil || err2 != err1 {
		t.Errorf("Append after a failed write: %v, then %v; want the same error twice", err1, err2)
	}
	// The failed record may be on disk: its sequence numbers are used.
	if first1 != last+1 || j.LastSeq() != last+2 {
		t.Errorf("failed Append: first %d, LastSeq %d; want %d and %d", first1, j.LastSeq(), last+1, last+2)
	}
	j.Close()
}

func TestAppendErrorsAfterClose(t *testing.T) {
	j := mustOpen(t, tempPath(t), MinSize)
	j.Start(1)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append([][]byte{[]byte("late")}); err == nil {
		t.Error("Append after Close succeeded")
	}
	if err := j.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

// TestLargeJournal crosses scan's chunk boundaries with records of many
// sizes, one of them larger than a chunk.
func TestLargeJournal(t *testing.T) {
	path := tempPath(t)
	const size = 4 << 20
	j := mustOpen(t, path, size)
	j.Start(1)
	var want []Entry
	for i := 0; ; i++ {
		n := (i * 7919) % 40000
		if i == 10 {
			n = chunkSize + chunkSize/2
		}
		first, err := j.Append([][]byte{entry(n, byte(i)), entry(i%3, 'z')})
		if err == ErrFull {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, Entry{first, entry(n, byte(i))}, Entry{first + 1, entry(i%3, 'z')})
	}
	j = reopen(t, j, path, size)
	defer j.Close()
	checkPending(t, j, want)
}

func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("%dx500B", n), func(b *testing.B) {
			j := mustOpen(b, tempPath(b), 64<<20)
			defer j.Close()
			j.Start(1)
			entries := make([][]byte, n)
			for i := range entries {
				entries[i] = entry(500, 'b')
			}
			b.SetBytes(int64(n * 500))
			b.ReportAllocs()
			for b.Loop() {
				_, err := j.Append(entries)
				if err == ErrFull {
					j.Rewind()
					_, err = j.Append(entries)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMalformed opens files whose first record has a correct checksum but
// breaks another rule of the format.
func TestMalformed(t *testing.T) {
	// seal sets rec's length field to its payload's length and fixes its
	// checksum.
	seal := func(rec []byte) []byte {
		binary.LittleEndian.PutUint32(rec[24:], uint32(len(rec)-headerSize))
		binary.LittleEndian.PutUint32(rec[28:], recordCRC(rec))
		return rec
	}
	record := func(first int64, entries ...[]byte) []byte {
		return appendRecord(nil, 1, first, entries)
	}
	setCount := func(rec []byte, n uint32) []byte {
		binary.LittleEndian.PutUint32(rec[20:], n)
		return seal(rec)
	}
	for _, tc := range []struct {
		name string
		rec  []byte
		ok   bool
	}{
		{"valid", record(1, []byte("abc")), true},
		{"last seq MaxInt64-1", record(math.MaxInt64-2, []byte("a"), []byte("b")), true},
		{"trailing byte", seal(append(record(1, []byte("abc")), 0)), false},
		{"count too high", setCount(record(1, []byte("abc")), 2), false},
		{"count too low", setCount(record(1, []byte("a"), []byte("b")), 1), false},
		{"count zero", setCount(record(1, []byte("a")), 0), false},
		{"first zero", record(0, []byte("a")), false},
		{"first negative", record(-1, []byte("a")), false},
		{"last seq MaxInt64", record(math.MaxInt64-1, []byte("a"), []byte("b")), false},
		{"entry past payload", seal(append(record(1), 10, 'a', 'b', 'c')), false},
		{"uvarint overflow", seal(append(record(1), bytes.Repeat([]byte{0xff}, 11)...)), false},
		{"uvarint cut", seal(append(record(1), 0x80)), false},
		{"length past file", func() []byte {
			rec := record(1, []byte("a"))
			binary.LittleEndian.PutUint32(rec[24:], MinSize)
			return rec
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tempPath(t)
			file := make([]byte, MinSize)
			copy(file, tc.rec)
			if err := os.WriteFile(path, file, 0o600); err != nil {
				t.Fatal(err)
			}
			j := mustOpen(t, path, MinSize)
			defer j.Close()
			if got := len(j.Pending()) > 0; got != tc.ok {
				t.Errorf("record accepted: %v, want %v", got, tc.ok)
			}
		})
	}
}

// TestClear: after Clear, a reopened journal has nothing pending, and the
// journal goes on taking records from its beginning.
func TestClear(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, err := Open(path, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	j.Start(1)
	if _, err := j.Append([][]byte{[]byte("a"), []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if err := j.Clear(); err != nil {
		t.Fatal(err)
	}
	if first, err := j.Append([][]byte{[]byte("c")}); err != nil || first != 3 {
		t.Fatalf("Append after Clear: %d, %v; want 3", first, err)
	}
	if err := j.Clear(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, err = Open(path, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if p := j.Pending(); len(p) != 0 {
		t.Fatalf("pending after Clear: %v", p)
	}
}

// TestBufferedWrites runs the tests that depend on how records reach the
// file with a write and an fdatasync each, as on a filesystem that
// refuses O_DIRECT; the tests on their own use direct writes where the
// filesystem allows them (then the page holding the end of one record is
// written again with the next).
func TestBufferedWrites(t *testing.T) {
	j := mustOpen(t, tempPath(t), MinSize)
	t.Logf("direct writes on this filesystem, in the other tests: %v", j.direct != nil)
	j.Close()
	saved := openDirectFile
	openDirectFile = func(string) *os.File { return nil }
	t.Cleanup(func() { openDirectFile = saved })
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"RoundTrip", TestRoundTrip}, {"Start", TestStart}, {"Damage", TestDamage},
		{"StaleLap", TestStaleLap}, {"Chain", TestChain}, {"Full", TestFull},
		{"AppendErrors", TestAppendErrors}, {"LargeJournal", TestLargeJournal}, {"Clear", TestClear},
		{"ManyRecords", TestManyRecords},
	} {
		t.Run(tc.name, tc.fn)
	}
}

// TestManyRecords appends records of many sizes, so that records start and
// end at every offset within a page and span pages, across two laps, and
// checks after each lap that a reopened journal holds exactly them.
func TestManyRecords(t *testing.T) {
	path := tempPath(t)
	const size = 64 << 10
	j := mustOpen(t, path, size)
	j.Start(1)
	for lap := range 2 {
		var want []Entry
		for i := 0; ; i++ {
			e := entry(1+(i*37+lap*11)%900, byte('a'+i%26))
			es := [][]byte{e}
			if i%3 == 0 {
				es = append(es, entry(5, 'z'))
			}
			got, err := j.Append(es)
			if errors.Is(err, ErrFull) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, x := range es {
				want = append(want, Entry{Seq: got + int64(k), Data: x})
			}
		}
		j = reopen(t, j, path, size)
		checkPending(t, j, want)
		j.Start(j.LastSeq() + 1)
	}
	j.Close()
}
