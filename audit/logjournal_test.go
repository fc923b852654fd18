//go:build unix

package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/audit/journal"
	"github.com/qgate/qgate/store/sqlite"
)

// openJournaled opens an SQLite store and its journal (size bytes) in
// dir, replays the journal, and returns both.
func openJournaled(tb testing.TB, dir string, size int64) (*sqlite.DB, *journal.Journal) {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(dir, "qgate.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	j, _ := openReplayed(tb, db, size)
	return db, j
}

// openReplayed opens db's journal (size bytes), as the next start would,
// and replays it into db; it returns the journal and how many events the
// replay appended.
func openReplayed(tb testing.TB, db *sqlite.DB, size int64) (*journal.Journal, int) {
	tb.Helper()
	j, err := journal.Open(db.AuditJournalPath(), size)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := audit.ReplayJournal(context.Background(), db, j)
	if err != nil {
		tb.Fatal(err)
	}
	return j, n
}

// replayed is openReplayed for a journal that is closed at once.
func replayed(tb testing.TB, db *sqlite.DB, size int64) int {
	tb.Helper()
	j, n := openReplayed(tb, db, size)
	j.Close()
	return n
}

// TestLog_Journal: under DurabilitySync with a journal, concurrent
// callers' allowed events, their execution events (AppendAsync) and
// other events (Append) all reach the store once, in each caller's order,
// across many rewinds of a small journal; the store's journal mark ends
// at the journal's last entry.
func TestLog_Journal(t *testing.T) {
	db, j := openJournaled(t, t.TempDir(), 16<<10)
	l := audit.NewLog(db, audit.LogOptions{Journal: j, MaxBatch: 32})
	const workers, calls = 8, 150
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				id := fmt.Sprintf("w%d-%03d", w, i)
				req := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: id, Data: []byte(`{"i": 1}`)}
				if err := l.AppendAllowed(context.Background(), req); err != nil {
					t.Error(err)
					return
				}
				if req.Seq != 0 {
					t.Errorf("%s: journaled event has seq %d before the store gave one", id, req.Seq)
				}
				exec := &qgate.AuditEvent{Type: qgate.AuditExecution, Action: "forwarded", RequestID: id}
				if err := l.AppendAsync(exec, nil); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					other := &qgate.AuditEvent{Type: qgate.AuditAuth, Action: "failed", RequestID: id}
					if err := l.Append(context.Background(), other); err != nil || other.Seq == 0 {
						t.Error("Append:", err, other.Seq)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	last := j.LastSeq()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A clean stop leaves nothing to replay.
	j2, err := journal.Open(db.AuditJournalPath(), 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	if p := j2.Pending(); len(p) != 0 {
		t.Errorf("%d entries pending after a clean stop", len(p))
	}
	j2.Close()
	if last != workers*calls {
		t.Errorf("journal's last entry is %d, want %d (one per allowed event)", last, workers*calls)
	}
	mark, err := db.AuditJournalMark(context.Background())
	if err != nil || mark != last {
		t.Fatalf("journal mark %d (%v), want %d", mark, err, last)
	}
	want := int64(workers * calls * 2)
	want += workers * (calls / 10)
	mustVerify(t, db, want)

	next := map[string]string{} // request id → the type its next event must have
	err = db.ScanAudit(context.Background(), 0, func(e *qgate.AuditEvent) error {
		switch e.Type {
		case qgate.AuditRequest:
			if _, seen := next[e.RequestID]; seen {
				return fmt.Errorf("seq %d: %s's request event stored twice", e.Seq, e.RequestID)
			}
			if string(e.Data) != `{"i":1}` {
				return fmt.Errorf("seq %d: data %s, want compacted", e.Seq, e.Data)
			}
			next[e.RequestID] = qgate.AuditExecution
		case qgate.AuditExecution:
			if next[e.RequestID] != qgate.AuditExecution {
				return fmt.Errorf("seq %d: %s's execution event before its request event", e.Seq, e.RequestID)
			}
			next[e.RequestID] = "none"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != workers*calls {
		t.Fatalf("%d request events stored, want %d", len(next), workers*calls)
	}
}

// markFailStore fails AppendAuditMarked while fail is set, and counts the
// calls that did.
type markFailStore struct {
	*sqlite.DB
	fail   atomic.Bool
	failed atomic.Int64
}

func (s *markFailStore) AppendAuditMarked(ctx context.Context, es []*qgate.AuditEvent, mark int64) error {
	if s.fail.Load() {
		s.failed.Add(1)
		return errSwitch
	}
	return s.DB.AppendAuditMarked(ctx, es, mark)
}

func (s *markFailStore) AppendAudit(ctx context.Context, es []*qgate.AuditEvent) error {
	if s.fail.Load() {
		return errSwitch
	}
	return s.DB.AppendAudit(ctx, es)
}

// TestLog_JournalStoreFails: a journaled event whose batch fails is kept
// and committed, before later events, once the store works again; in
// between AppendAllowed waits for the store and reports its failure. If
// the Log closes while the store still fails, the events stay in the
// journal, and the next start stores them once.
func TestLog_JournalStoreFails(t *testing.T) {
	dir := t.TempDir()
	db, j := openJournaled(t, dir, 1<<20)
	st := &markFailStore{DB: db}
	st.fail.Store(true)
	l := audit.NewLog(st, audit.LogOptions{Journal: j})
	first := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: "first"}
	if err := l.AppendAllowed(context.Background(), first); err != nil {
		t.Fatal(err) // journaled: the store is not asked yet
	}
	deadline := time.Now().Add(10 * time.Second)
	for !l.Failing() {
		if time.Now().After(deadline) {
			t.Fatal("the batch holding the journaled event never failed")
		}
		time.Sleep(time.Millisecond)
	}
	if err := l.AppendAllowed(context.Background(), &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: "refused"}); err == nil {
		t.Fatal("AppendAllowed succeeded while the store fails")
	}
	st.fail.Store(false)
	second := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: "second"}
	if err := l.AppendAllowed(context.Background(), second); err != nil || second.Seq == 0 {
		t.Fatalf("AppendAllowed after recovery: %v, seq %d (it waits for the store while failing)", err, second.Seq)
	}
	var ids []string
	db.ScanAudit(context.Background(), 0, func(e *qgate.AuditEvent) error { ids = append(ids, e.RequestID); return nil })
	if fmt.Sprint(ids) != "[first second]" {
		t.Fatalf("stored %v, want [first second]", ids)
	}

	// Now the store fails until the Log is closed: the event stays in the
	// journal.
	st.fail.Store(true)
	third := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: "third", Data: []byte(`{"n":3}`),
		Time: time.Date(2026, 11, 27, 10, 0, 0, 123, time.UTC), TokenID: "tok", Identity: "alice", Target: "api", Environment: "prod", ReviewID: 7}
	// failing is cleared by the recovery above, so this one is journaled.
	if err := l.AppendAllowed(context.Background(), third); err != nil {
		t.Fatal(err)
	}
	for st.failed.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the batch holding the third event never failed")
		}
		time.Sleep(time.Millisecond)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	if n := replayed(t, db, 1<<20); n != 1 {
		t.Fatalf("replay: %d events, want 1", n)
	}
	got, err := db.ListAudit(context.Background(), qgate.AuditFilter{RequestID: "third"})
	if err != nil || len(got) != 1 {
		t.Fatalf("third after replay: %v, %v", got, err)
	}
	g := got[0]
	if !g.Time.Equal(third.Time) || g.Type != third.Type || g.Action != third.Action || g.TokenID != "tok" ||
		g.Identity != "alice" || g.Target != "api" || g.Environment != "prod" || g.ReviewID != 7 || string(g.Data) != `{"n":3}` {
		t.Fatalf("replayed %+v, want the fields of %+v", g, third)
	}

	// A second start replays nothing: the mark covers it.
	if n := replayed(t, db, 1<<20); n != 0 {
		t.Fatalf("second replay: %d events, want none", n)
	}
	mustVerify(t, db, 3)
}

// TestLog_JournalFallsBack: an event too large for the journal, and every
// event once the journal fails, are committed to the store before
// AppendAllowed returns, as without a journal (their Seq is set).
func TestLog_JournalFallsBack(t *testing.T) {
	db, j := openJournaled(t, t.TempDir(), journal.MinSize)
	l := audit.NewLog(db, audit.LogOptions{Journal: j})
	defer l.Close()
	small := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: "small"}
	if err := l.AppendAllowed(context.Background(), small); err != nil || small.Seq != 0 {
		t.Fatalf("small event: %v, seq %d; want journaled (no seq yet)", err, small.Seq)
	}
	big := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: "big",
		Data: []byte(`{"pad":"` + strings.Repeat("x", journal.MinSize) + `"}`)}
	if err := l.AppendAllowed(context.Background(), big); err != nil || big.Seq == 0 {
		t.Fatalf("event larger than the journal: %v, seq %d; want committed", err, big.Seq)
	}
	// The journal breaks (here: its file is closed under it).
	j.Close()
	for i := range 3 {
		e := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: fmt.Sprint("after-", i)}
		if err := l.AppendAllowed(context.Background(), e); err != nil || e.Seq == 0 {
			t.Fatalf("after the journal failed: %v, seq %d; want committed", err, e.Seq)
		}
	}
	if l.Failing() {
		t.Fatal("a failed journal made the Log fail; the store still works")
	}
	var ids []string
	db.ScanAudit(context.Background(), 0, func(e *qgate.AuditEvent) error { ids = append(ids, e.RequestID); return nil })
	if fmt.Sprint(ids) != "[small big after-0 after-1 after-2]" {
		t.Fatalf("stored %v", ids)
	}
}

// appendAllowedFrom starts n goroutines that each append one allowed
// event (request ids r0, r1, ..., with data) and give up after 20 s; the
// function it returns waits for them and returns the ids acknowledged.
func appendAllowedFrom(l *audit.Log, n int, data []byte) func() []string {
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			id := fmt.Sprint("r", i)
			if l.AppendAllowed(ctx, &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: id, Data: data}) == nil {
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	return func() []string {
		wg.Wait()
		return acked
	}
}

// closeWithin fails the test if Close does not return within d.
func closeWithin(t *testing.T, l *audit.Log, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- l.Close() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("Close did not return within %v", d)
	}
}

// storedOnce checks that every id has exactly one event in db.
func storedOnce(t *testing.T, db *sqlite.DB, ids []string) {
	t.Helper()
	seen := map[string]int{}
	db.ScanAudit(context.Background(), 0, func(e *qgate.AuditEvent) error { seen[e.RequestID]++; return nil })
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("acknowledged %s stored %d times, want once", id, seen[id])
		}
	}
}

// TestLog_JournalStoreRecovers: journaled events whose batches failed
// are retried by the writer on its own, even when nothing else is
// appended and the writer's collection is full; once the store works
// again every acknowledged event is stored, and Close returns.
func TestLog_JournalStoreRecovers(t *testing.T) {
	db, j := openJournaled(t, t.TempDir(), 1<<20)
	st := &markFailStore{DB: db}
	st.fail.Store(true)
	l := audit.NewLog(st, audit.LogOptions{Journal: j, MaxBatch: 2})
	wait := appendAllowedFrom(l, 64, nil)
	time.Sleep(300 * time.Millisecond)
	st.fail.Store(false)
	acked := wait()
	closeWithin(t, l, 20*time.Second)
	if len(acked) == 0 {
		t.Fatal("no append was acknowledged")
	}
	storedOnce(t, db, acked)
}

// TestLog_JournalFullStoreDown: with the journal full and the store
// failing, callers are answered (with the store's error) instead of
// waiting for room forever, Close returns, and what the journal
// acknowledged is stored once by the next start.
func TestLog_JournalFullStoreDown(t *testing.T) {
	dir := t.TempDir()
	db, j := openJournaled(t, dir, journal.MinSize)
	st := &markFailStore{DB: db}
	st.fail.Store(true)
	l := audit.NewLog(st, audit.LogOptions{Journal: j})
	acked := appendAllowedFrom(l, 200, []byte(`{"pad":"`+strings.Repeat("x", 100)+`"}`))()
	closeWithin(t, l, 20*time.Second)

	replayed(t, db, journal.MinSize)
	storedOnce(t, db, acked)
	t.Logf("%d of 200 acknowledged while the store failed, all stored after the restart", len(acked))
}
