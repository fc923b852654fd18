//go:build linux

package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkSync is why the journal is a preallocated file that records
// overwrite: it writes a record (600 bytes: one event; 8 KiB: a group)
// and fdatasyncs, each record after the last, into a file of zeros
// ("overwrite") and at the end of a file that grows ("append"), and
// reports the process's CPU time per write besides the wall time. An
// append must also make the new size and any new blocks durable.
//
//	go test -run '^$' -bench Sync -benchtime 2000x ./audit/journal
func BenchmarkSync(b *testing.B) {
	for _, bench := range []struct {
		mode string
		size int
	}{{"overwrite", 600}, {"append", 600}, {"overwrite", 8192}, {"append", 8192}} {
		mode, rec := bench.mode, make([]byte, bench.size)
		b.Run(fmt.Sprintf("%s/%dB", mode, bench.size), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if mode == "overwrite" {
				if _, err := f.Write(make([]byte, (b.N+1)*len(rec))); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := range b.N {
				if _, err := f.WriteAt(rec, int64(i*len(rec))); err != nil {
					b.Fatal(err)
				}
				if err := unix.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
