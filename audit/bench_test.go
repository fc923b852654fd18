//go:build unix

package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/store/sqlite"
)

// BenchmarkLogAppend measures durable appends through a Log on the real
// SQLite store (WAL, synchronous=FULL) from concurrent writers, each
// waiting for its own event to commit. It reports events per second, the
// average batch size group commit achieved, and the process's CPU time per
// event (user+system), which other load on the machine disturbs less than
// wall time.
//
// Request ids are time-ordered (like UUIDv7), as the gateway should make
// them: random ids make every event dirty a different page of the
// request_id index.
func BenchmarkLogAppend(b *testing.B) {
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			db, err := sqlite.Open(filepath.Join(b.TempDir(), "qgate.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			l := audit.NewLog(db, audit.LogOptions{})
			defer l.Close()
			data := []byte(`{"sql":"SELECT * FROM accounts WHERE id = $1","decision":"allow","risk":"none"}`)

			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			cpu0 := cpuTime()
			start := time.Now()
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						e := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow",
							RequestID: fmt.Sprintf("%016x-%04x", time.Now().UnixNano(), w),
							TokenID:   "tok1", Identity: "alice", Target: "billing-db", Environment: "prod", Data: data}
						if err := l.Append(context.Background(), e); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			cpu := cpuTime() - cpu0
			b.StopTimer()
			st := l.Stats()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(st.Events)/float64(max(st.Batches, 1)), "events/batch")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
		})
	}
}

// BenchmarkLogAppendAsyncPaced appends with AppendAsync at a steady 20,000
// events per second, as a gateway under load with audit.durability async
// does, and reports the batch size the writer gathered and the process's
// CPU time per event: what the commit cadence (maxAsyncDelay) costs.
//
//	go test -run '^$' -bench AsyncPaced -benchtime 60000x ./audit
func BenchmarkLogAppendAsyncPaced(b *testing.B) {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "qgate.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l := audit.NewLog(db, audit.LogOptions{Durability: audit.DurabilityAsync})
	data := []byte(`{"method":"GET","path":"/v1/users/42","query":"expand=orders","source_ip":"127.0.0.1","matched":[{"name":"reads","action":"allow"}],"risk":"none","findings":[]}`)
	const perMs = 20
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	cpu0 := cpuTime()
	n := 0
	for n < b.N {
		<-tick.C
		for i := 0; i < perMs && n < b.N; i++ {
			n++
			e := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow",
				RequestID: fmt.Sprintf("%016x", time.Now().UnixNano()),
				TokenID:   "tok1", Identity: "alice", Target: "api", Environment: "prod", Data: data}
			if err := l.AppendAsync(e, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	l.Close()
	cpu := cpuTime() - cpu0
	st := l.Stats()
	b.ReportMetric(float64(st.Events)/float64(max(st.Batches, 1)), "events/batch")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
}

// cpuTime returns the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
