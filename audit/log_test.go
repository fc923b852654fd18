package audit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
)

// countingStore wraps an AuditStore and records the size of every
// AppendAudit call.
type countingStore struct {
	qgate.AuditStore
	mu    sync.Mutex
	sizes []int
}

func (s *countingStore) AppendAudit(ctx context.Context, es []*qgate.AuditEvent) error {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(es))
	s.mu.Unlock()
	return s.AuditStore.AppendAudit(ctx, es)
}

func (s *countingStore) calls() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

// gateStore blocks every AppendAudit until open is called, then fails
// with err if it is set.
type gateStore struct {
	qgate.AuditStore
	entered chan int // size of each call, as it starts
	release chan struct{}
	once    sync.Once
	err     error
}

func newGateStore(s qgate.AuditStore) *gateStore {
	return &gateStore{AuditStore: s, entered: make(chan int, 100), release: make(chan struct{})}
}

// open lets every blocked and future AppendAudit through.
func (s *gateStore) open() { s.once.Do(func() { close(s.release) }) }

func (s *gateStore) AppendAudit(ctx context.Context, es []*qgate.AuditEvent) error {
	s.entered <- len(es)
	<-s.release
	if s.err != nil {
		return s.err
	}
	return s.AuditStore.AppendAudit(ctx, es)
}

func mustVerify(tb testing.TB, s qgate.AuditStore, events int64) {
	tb.Helper()
	rep, err := audit.Verify(context.Background(), s)
	if err != nil {
		tb.Fatal(err)
	}
	if !rep.OK || rep.Events != events {
		tb.Fatalf("verify: %v (%+v), want OK with %d events", rep, rep, events)
	}
}

func TestLog_Append(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db, _ := MustOpen(t)
		l := audit.NewLog(db, audit.LogOptions{})
		defer l.Close()
		var prev string
		for i := 1; i <= 3; i++ {
			e := &qgate.AuditEvent{Time: t0, Type: qgate.AuditAdmin, Action: "x"}
			if err := l.Append(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			if e.Seq != int64(i) || e.PrevHash != prev || e.Hash == "" || e.Hash != e.ChainHash() {
				t.Fatalf("event %d: %+v", i, e)
			}
			prev = e.Hash
		}
		mustVerify(t, db, 3)
	})
	t.Run("CompactsData", func(t *testing.T) {
		db, _ := MustOpen(t)
		l := audit.NewLog(db, audit.LogOptions{})
		defer l.Close()
		e := &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x", Data: []byte("{ \"a\" : [1, 2],\n\"b\": \"<&>\" }")}
		if err := l.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		es, err := db.ListAudit(context.Background(), qgate.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"a":[1,2],"b":"<&>"}`; string(es[0].Data) != want || string(e.Data) != want {
			t.Fatalf("stored %s, returned %s; want %s", es[0].Data, e.Data, want)
		}
	})
	t.Run("ErrInvalidData", func(t *testing.T) {
		db, _ := MustOpen(t)
		l := audit.NewLog(db, audit.LogOptions{})
		defer l.Close()
		err := l.Append(context.Background(), &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x", Data: []byte("{")})
		if qgate.ErrorCode(err) != qgate.EINVALID {
			t.Fatalf("err = %v, want EINVALID", err)
		}
	})
	t.Run("ErrStore", func(t *testing.T) {
		// Every caller of a failed batch gets the store's error; the Log
		// keeps going with the next batch.
		db, _ := MustOpen(t)
		boom := errors.New("disk full")
		gs := newGateStore(db)
		gs.err = boom
		l := audit.NewLog(gs, audit.LogOptions{Logger: slog.New(slog.DiscardHandler)})
		defer l.Close()
		defer gs.open()

		errs := make(chan error, 5)
		for range 5 {
			go func() { errs <- l.Append(context.Background(), &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"}) }()
		}
		waitQueued(t, l, gs, 5)
		gs.open()
		for range 5 {
			if err := <-errs; !errors.Is(err, boom) {
				t.Fatalf("err = %v, want %v", err, boom)
			}
		}
		if st := l.Stats(); st.Failed != 5 || st.Events != 0 {
			t.Fatalf("stats = %+v", st)
		}

		gs.err = nil
		if err := l.Append(context.Background(), &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"}); err != nil {
			t.Fatalf("append after a failed batch: %v", err)
		}
		mustVerify(t, db, 1)
	})
	t.Run("ContextDone", func(t *testing.T) {
		db, _ := MustOpen(t)
		gs := newGateStore(db)
		l := audit.NewLog(gs, audit.LogOptions{})
		defer l.Close()
		defer gs.open()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		e := &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"}
		if err := l.Append(ctx, e); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
		if e.Seq != 0 {
			t.Fatalf("abandoned event was changed: seq %d", e.Seq)
		}
		gs.open()
		l.Close()
		// The event was queued before the caller gave up, so it is stored.
		mustVerify(t, db, 1)
	})
}

// waitQueued waits until a batch is blocked in gs and, with the events
// queued behind it, n events have arrived.
func waitQueued(tb testing.TB, l *audit.Log, gs *gateStore, n int) {
	tb.Helper()
	waitDepth(tb, l, n-<-gs.entered)
}

// waitDepth waits until l.QueueDepth() reaches n.
func waitDepth(tb testing.TB, l *audit.Log, n int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.QueueDepth() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("queue depth %d, want %d", l.QueueDepth(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLog_AppendAsync(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db, _ := MustOpen(t)
		l := audit.NewLog(db, audit.LogOptions{})
		defer l.Close()
		type res struct {
			seq  int64
			hash string
			err  error
		}
		done := make(chan res, 3)
		for range 3 {
			e := &qgate.AuditEvent{Time: t0, Type: qgate.AuditExecution, Action: "forwarded", Data: []byte(`{"status":200}`)}
			err := l.AppendAsync(e, func(e *qgate.AuditEvent, err error) { done <- res{e.Seq, e.Hash, err} })
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i <= 3; i++ {
			r := <-done
			if r.err != nil || r.seq != int64(i) || r.hash == "" {
				t.Fatalf("callback %d: %+v", i, r)
			}
		}
		mustVerify(t, db, 3)
	})
	t.Run("ErrStore", func(t *testing.T) {
		db, _ := MustOpen(t)
		boom := errors.New("disk full")
		gs := newGateStore(db)
		gs.err = boom
		l := audit.NewLog(gs, audit.LogOptions{Logger: slog.New(slog.DiscardHandler)})
		defer l.Close()
		done := make(chan error, 1)
		if err := l.AppendAsync(&qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"}, func(_ *qgate.AuditEvent, err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
		gs.open()
		if err := <-done; !errors.Is(err, boom) {
			t.Fatalf("callback error: got %v, want %v", err, boom)
		}
	})
	t.Run("ErrInvalidData", func(t *testing.T) {
		db, _ := MustOpen(t)
		l := audit.NewLog(db, audit.LogOptions{})
		defer l.Close()
		called := false
		err := l.AppendAsync(&qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x", Data: []byte(`{"a":`)}, func(*qgate.AuditEvent, error) { called = true })
		if qgate.ErrorCode(err) != qgate.EINVALID {
			t.Fatalf("err = %v, want EINVALID", err)
		}
		l.Close()
		if called {
			t.Error("callback called for a refused event")
		}
	})
	t.Run("SharesTheNextCommit", func(t *testing.T) {
		// An event nobody waits for waits (briefly) for one somebody
		// waits for, and both are committed together. A machine that
		// stalls for longer than that delay between the two calls splits
		// them, so a few attempts are allowed.
		var batches []int
		for range 3 {
			db, _ := MustOpen(t)
			cs := &countingStore{AuditStore: db}
			l := audit.NewLog(cs, audit.LogOptions{})
			done := make(chan error, 1)
			if err := l.AppendAsync(&qgate.AuditEvent{Type: qgate.AuditExecution, Action: "forwarded"}, func(_ *qgate.AuditEvent, err error) { done <- err }); err != nil {
				t.Fatal(err)
			}
			if err := l.Append(context.Background(), &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow"}); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			l.Close()
			mustVerify(t, db, 2)
			if batches = cs.calls(); len(batches) == 1 {
				return
			}
		}
		t.Errorf("batches: got %v, want [2]", batches)
	})
	t.Run("AloneIsCommittedSoon", func(t *testing.T) {
		db, _ := MustOpen(t)
		l := audit.NewLog(db, audit.LogOptions{})
		defer l.Close()
		done := make(chan error, 1)
		start := time.Now()
		if err := l.AppendAsync(&qgate.AuditEvent{Type: qgate.AuditExecution, Action: "forwarded"}, func(_ *qgate.AuditEvent, err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an event nobody waits for was not committed")
		}
		t.Logf("committed after %v", time.Since(start))
	})
	t.Run("CallerOrder", func(t *testing.T) {
		// Events nobody waits for are collected apart from those a caller
		// waits for; the chain must still hold each caller's events in
		// the order it appended them.
		db, _ := MustOpen(t)
		l := audit.NewLog(db, audit.LogOptions{})
		const callers, rounds = 16, 20
		var wg sync.WaitGroup
		for c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					for i, waited := range []bool{false, false, true} {
						e := &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x", RequestID: fmt.Sprintf("c%d-%03d-%d", c, r, i)}
						var err error
						if waited {
							err = l.Append(context.Background(), e)
						} else {
							err = l.AppendAsync(e, nil)
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		l.Close()
		mustVerify(t, db, callers*rounds*3)
		es, err := db.ListAudit(context.Background(), qgate.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		last := map[string]string{}
		for _, e := range es {
			c, rest, _ := strings.Cut(e.RequestID, "-")
			if rest <= last[c] {
				t.Fatalf("caller %s: %s committed after %s", c, rest, last[c])
			}
			last[c] = rest
		}
	})
	t.Run("CallerOrderBacklog", func(t *testing.T) {
		// While the store is stalled, more events are collected than one
		// batch holds; the caller's Append must still come after them.
		db, _ := MustOpen(t)
		gs := newGateStore(db)
		l := audit.NewLog(gs, audit.LogOptions{MaxBatch: 4})
		ev := func(i int) *qgate.AuditEvent {
			return &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x", RequestID: fmt.Sprintf("a%02d", i)}
		}
		if err := l.AppendAsync(ev(0), nil); err != nil {
			t.Fatal(err)
		}
		<-gs.entered // the writer is stalled on the first batch
		for i := 1; i <= 6; i++ {
			if err := l.AppendAsync(ev(i), nil); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() { done <- l.Append(context.Background(), ev(7)) }()
		for l.QueueDepth() < 7 { // six collected, the Append queued
			time.Sleep(time.Millisecond)
		}
		gs.open()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		l.Close()
		mustVerify(t, db, 8)
		es, err := db.ListAudit(context.Background(), qgate.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range es {
			if want := fmt.Sprintf("a%02d", i); e.RequestID != want {
				t.Fatalf("event %d is %s, want %s: the order of one caller's events broke", i, e.RequestID, want)
			}
		}
	})
	t.Run("Backpressure", func(t *testing.T) {
		// While the store is stuck, AppendAsync collects up to four
		// batches' worth of events and then waits for room. (The stuck
		// batch itself took every event collected when it started, up
		// to four batches' worth: 60 leaves enough to fill the cap.)
		db, _ := MustOpen(t)
		gs := newGateStore(db)
		l := audit.NewLog(gs, audit.LogOptions{MaxBatch: 4})
		returned := make(chan struct{}, 100)
		go func() {
			for range 60 {
				if err := l.AppendAsync(&qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"}, nil); err != nil {
					t.Error(err)
				}
				returned <- struct{}{}
			}
		}()
		<-gs.entered // the first batch is in the store, blocked
		waitDepth(t, l, 16)
		time.Sleep(20 * time.Millisecond)
		if d := l.QueueDepth(); d != 16 {
			t.Fatalf("collected %d events while the store is stuck, want 16", d)
		}
		if n := len(returned); n >= 60 {
			t.Fatalf("all %d AppendAsync calls returned while the store is stuck", n)
		}
		gs.open()
		for range 60 {
			<-returned
		}
		l.Close()
		mustVerify(t, db, 60)
	})
	t.Run("CloseAppendsQueued", func(t *testing.T) {
		db, _ := MustOpen(t)
		l := audit.NewLog(db, audit.LogOptions{})
		var n atomic.Int32
		for range 50 {
			if err := l.AppendAsync(&qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"}, func(_ *qgate.AuditEvent, err error) {
				if err == nil {
					n.Add(1)
				}
			}); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		if n.Load() != 50 {
			t.Fatalf("appended before Close returned: %d, want 50", n.Load())
		}
		mustVerify(t, db, 50)
		if err := l.AppendAsync(&qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"}, nil); err != audit.ErrClosed {
			t.Fatalf("after Close: got %v, want ErrClosed", err)
		}
	})
}

func TestLog_GroupCommit(t *testing.T) {
	t.Run("Concurrent", func(t *testing.T) {
		// 64 goroutines append at once: one chain, fewer transactions
		// than events.
		const writers, perWriter = 64, 50
		db, _ := MustOpen(t)
		cs := &countingStore{AuditStore: db}
		l := audit.NewLog(cs, audit.LogOptions{})
		defer l.Close()

		var wg sync.WaitGroup
		var failed atomic.Int64
		seqs := make([][]int64, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWriter {
					e := &qgate.AuditEvent{Type: qgate.AuditRequest, Action: "allow", RequestID: fmt.Sprintf("w%d-%d", w, i)}
					if err := l.Append(context.Background(), e); err != nil {
						t.Error(err)
						failed.Add(1)
						return
					}
					seqs[w] = append(seqs[w], e.Seq)
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			t.FailNow()
		}
		const total = writers * perWriter
		mustVerify(t, db, total)

		seen := map[int64]bool{}
		for _, ss := range seqs {
			for i, s := range ss {
				if seen[s] {
					t.Fatalf("seq %d acknowledged twice", s)
				}
				seen[s] = true
				if i > 0 && s <= ss[i-1] {
					t.Fatalf("one writer's events out of order: %d after %d", s, ss[i-1])
				}
			}
		}
		calls := cs.calls()
		sum := 0
		for _, n := range calls {
			sum += n
		}
		st := l.Stats()
		t.Logf("%d events in %d transactions (%.1f per transaction)", total, len(calls), float64(total)/float64(len(calls)))
		if sum != total || st.Events != total || st.Batches != int64(len(calls)) {
			t.Fatalf("store saw %d events in %d calls, stats %+v; want %d events", sum, len(calls), st, total)
		}
		if len(calls) >= total {
			t.Fatalf("%d transactions for %d events: no grouping", len(calls), total)
		}
	})
	t.Run("MaxBatch", func(t *testing.T) {
		db, _ := MustOpen(t)
		gs := newGateStore(db)
		l := audit.NewLog(gs, audit.LogOptions{MaxBatch: 3})
		defer l.Close()
		defer gs.open()
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := l.Append(context.Background(), &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"}); err != nil {
					t.Error(err)
				}
			}()
		}
		// The first batch blocks while the queue fills up: the next batch
		// takes exactly MaxBatch events.
		sizes := []int{<-gs.entered}
		waitDepth(t, l, 3)
		gs.open()
		wg.Wait()
		for len(gs.entered) > 0 {
			sizes = append(sizes, <-gs.entered)
		}
		if len(sizes) < 2 || sizes[1] != 3 {
			t.Fatalf("batch sizes %v, want the second to be MaxBatch (3)", sizes)
		}
		for _, n := range sizes {
			if n > 3 {
				t.Fatalf("batch sizes %v, want none above MaxBatch (3)", sizes)
			}
		}
		mustVerify(t, db, 8)
	})
}

func TestLog_Close(t *testing.T) {
	t.Run("Flushes", func(t *testing.T) {
		db, _ := MustOpen(t)
		gs := newGateStore(db)
		l := audit.NewLog(gs, audit.LogOptions{})
		defer gs.open()
		errs := make(chan error, 10)
		for range 10 {
			go func() { errs <- l.Append(context.Background(), &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"}) }()
		}
		waitQueued(t, l, gs, 10)
		closed := make(chan struct{})
		go func() { l.Close(); close(closed) }()
		select {
		case <-closed:
			t.Fatal("Close returned while a batch was still being written")
		case <-time.After(20 * time.Millisecond):
		}
		gs.open()
		<-closed
		for range 10 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		mustVerify(t, db, 10)
	})
	t.Run("ErrClosed", func(t *testing.T) {
		db, _ := MustOpen(t)
		l := audit.NewLog(db, audit.LogOptions{})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		err := l.Append(context.Background(), &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"})
		if !errors.Is(err, audit.ErrClosed) {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	})
}

// switchStore fails every AppendAudit while fail is set.
type switchStore struct {
	qgate.AuditStore
	fail atomic.Bool
}

var errSwitch = errors.New("store unavailable")

func (s *switchStore) AppendAudit(ctx context.Context, es []*qgate.AuditEvent) error {
	if s.fail.Load() {
		return errSwitch
	}
	return s.AuditStore.AppendAudit(ctx, es)
}

func TestLog_AppendAllowed(t *testing.T) {
	allowed := func() *qgate.AuditEvent {
		return &qgate.AuditEvent{Time: t0, Type: qgate.AuditRequest, Action: "allow", Data: []byte(`{"sql":"select 1"}`)}
	}
	// returned reports whether AppendAllowed returns while the store is
	// blocked in gs.
	returned := func(t *testing.T, l *audit.Log, gs *gateStore) (bool, *qgate.AuditEvent) {
		e := allowed()
		done := make(chan error, 1)
		go func() { done <- l.AppendAllowed(context.Background(), e) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			gs.open()
			return true, e
		case <-time.After(100 * time.Millisecond):
		}
		gs.open()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return false, e
	}
	t.Run("SyncWaitsForTheCommit", func(t *testing.T) {
		db, _ := MustOpen(t)
		gs := newGateStore(db)
		l := audit.NewLog(gs, audit.LogOptions{})
		if l.Durability() != audit.DurabilitySync {
			t.Fatalf("default durability: %q", l.Durability())
		}
		early, e := returned(t, l, gs)
		if early {
			t.Fatal("AppendAllowed returned before the batch was committed")
		}
		if e.Seq != 1 || e.Hash == "" {
			t.Fatalf("event not stamped as stored: %+v", e)
		}
		l.Close()
		mustVerify(t, db, 1)
	})
	t.Run("AsyncDoesNotWait", func(t *testing.T) {
		db, _ := MustOpen(t)
		gs := newGateStore(db)
		l := audit.NewLog(gs, audit.LogOptions{Durability: audit.DurabilityAsync})
		early, _ := returned(t, l, gs)
		if !early {
			t.Fatal("AppendAllowed waited for the commit under DurabilityAsync")
		}
		for range 10 {
			if err := l.AppendAllowed(context.Background(), allowed()); err != nil {
				t.Fatal(err)
			}
		}
		l.Close() // commits what is queued
		mustVerify(t, db, 11)
	})
	t.Run("AsyncFailsClosedAfterAFailedBatch", func(t *testing.T) {
		db, _ := MustOpen(t)
		ss := &switchStore{AuditStore: db}
		l := audit.NewLog(ss, audit.LogOptions{Durability: audit.DurabilityAsync, Logger: slog.New(slog.DiscardHandler)})
		defer l.Close()
		ss.fail.Store(true)
		if err := l.AppendAllowed(context.Background(), allowed()); err != nil {
			t.Fatalf("first append (queued): %v", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !l.Failing() {
			if time.Now().After(deadline) {
				t.Fatal("the failed batch did not mark the log failing")
			}
			time.Sleep(time.Millisecond)
		}
		// Now every allowed call waits for the store, and is refused.
		if err := l.AppendAllowed(context.Background(), allowed()); !errors.Is(err, errSwitch) {
			t.Fatalf("append while failing: got %v, want %v", err, errSwitch)
		}
		ss.fail.Store(false)
		e := allowed()
		if err := l.AppendAllowed(context.Background(), e); err != nil || e.Seq == 0 {
			t.Fatalf("append after recovery (waited for): seq %d, %v", e.Seq, err)
		}
		if l.Failing() {
			t.Fatal("still failing after a committed batch")
		}
		if err := l.AppendAllowed(context.Background(), allowed()); err != nil {
			t.Fatal(err)
		}
		if e := allowed(); l.AppendAllowed(context.Background(), e) != nil || e.Seq != 0 {
			t.Fatalf("after recovery AppendAllowed should queue again without waiting (seq %d)", e.Seq)
		}
	})
}
