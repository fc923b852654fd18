package review_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/review"
	"github.com/qgate/qgate/store/sqlite"
)

type fixture struct {
	engine *review.Engine
	store  *sqlite.DB
	log    *audit.Log
	now    atomic.Pointer[time.Time]
}

func MustEngine(tb testing.TB) *fixture {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "q.db"))
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{store: db, log: audit.NewLog(db, audit.LogOptions{})}
	tb.Cleanup(func() { f.log.Close(); db.Close() })
	f.engine = review.New(db, db, f.log)
	f.engine.PublicURL = "http://qgate.test"
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.now.Store(&t0)
	f.engine.Now = func() time.Time { return *f.now.Load() }
	return f
}

func (f *fixture) advance(d time.Duration) {
	t := f.now.Load().Add(d)
	f.now.Store(&t)
}

func (f *fixture) create(tb testing.TB, reqs ...qgate.ReviewRequirement) *qgate.Review {
	tb.Helper()
	if len(reqs) == 0 {
		reqs = []qgate.ReviewRequirement{{Policy: "writes", Approvers: []string{"dba"}, Quorum: 1, Timeout: time.Minute}}
	}
	r, err := f.engine.Create(context.Background(), review.Request{
		Request: &qgate.Request{ID: "req-1", Protocol: qgate.ProtocolPostgres, Target: "db", Environment: "prod", SourceIP: "127.0.0.1",
			Principal: qgate.Principal{TokenID: "tok-carol", Identity: "carol"}},
		Decision:    qgate.Decision{Action: qgate.ActionReview, Requirements: reqs},
		Payload:     "DELETE FROM t WHERE id = 1",
		PayloadHash: review.Hash("DELETE FROM t WHERE id = 1"),
		Shape:       "sql:abc",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

var (
	alice = review.Voter{Identity: "alice", Groups: []string{"dba"}}
	bob   = review.Voter{Identity: "bob", Groups: []string{"dba", "security"}}
	dave  = review.Voter{Identity: "dave", Groups: []string{"support"}}
	carol = review.Voter{Identity: "carol", Groups: []string{"dba"}}
)

func TestEngine_Approve(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		f := MustEngine(t)
		r := f.create(t)
		got, err := f.engine.Approve(ctx, r.ID, alice, "looks fine", 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != qgate.ReviewApproved || len(got.Votes) != 1 || got.DecidedAt.IsZero() {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("ErrSelfApproval", func(t *testing.T) {
		f := MustEngine(t)
		r := f.create(t)
		_, err := f.engine.Approve(ctx, r.ID, carol, "", 0) // carol is in dba, but asked
		if qgate.ErrorCode(err) != qgate.EFORBIDDEN {
			t.Fatalf("got %v, want EFORBIDDEN", err)
		}
	})
	t.Run("ErrNotInGroup", func(t *testing.T) {
		f := MustEngine(t)
		r := f.create(t)
		if _, err := f.engine.Approve(ctx, r.ID, dave, "", 0); qgate.ErrorCode(err) != qgate.EFORBIDDEN {
			t.Fatalf("got %v, want EFORBIDDEN", err)
		}
	})
	t.Run("ErrAlreadyVoted", func(t *testing.T) {
		f := MustEngine(t)
		r := f.create(t, qgate.ReviewRequirement{Policy: "p", Approvers: []string{"dba"}, Quorum: 2, Timeout: time.Minute})
		if _, err := f.engine.Approve(ctx, r.ID, alice, "", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.engine.Approve(ctx, r.ID, alice, "", 0); qgate.ErrorCode(err) != qgate.ECONFLICT {
			t.Fatalf("got %v, want ECONFLICT", err)
		}
	})
	t.Run("QuorumOfTwoDistinctPeople", func(t *testing.T) {
		f := MustEngine(t)
		r := f.create(t, qgate.ReviewRequirement{Policy: "p", Approvers: []string{"dba", "security"}, Quorum: 2, Timeout: time.Minute})
		got, err := f.engine.Approve(ctx, r.ID, bob, "", 0) // bob is in both groups: counts once
		if err != nil || got.Status != qgate.ReviewPending {
			t.Fatalf("after bob: %v %+v", err, got)
		}
		if n := review.Progress(got, got.Decision.Requirements[0]); n != 1 {
			t.Fatalf("progress after bob: got %d, want 1", n)
		}
		got, err = f.engine.Approve(ctx, r.ID, alice, "", 0)
		if err != nil || got.Status != qgate.ReviewApproved {
			t.Fatalf("after alice: %v %+v", err, got)
		}
	})
	t.Run("EveryRequirement", func(t *testing.T) {
		f := MustEngine(t)
		r := f.create(t,
			qgate.ReviewRequirement{Policy: "a", Approvers: []string{"dba"}, Quorum: 1, Timeout: time.Minute},
			qgate.ReviewRequirement{Policy: "b", Approvers: []string{"security"}, Quorum: 1, Timeout: time.Minute})
		got, _ := f.engine.Approve(ctx, r.ID, alice, "", 0)
		if got.Status != qgate.ReviewPending {
			t.Fatalf("dba alone must not satisfy security: %+v", got)
		}
		got, _ = f.engine.Approve(ctx, r.ID, bob, "", 0)
		if got.Status != qgate.ReviewApproved {
			t.Fatalf("got %+v", got)
		}
	})
}

func TestEngine_Reject(t *testing.T) {
	f := MustEngine(t)
	r := f.create(t, qgate.ReviewRequirement{Policy: "p", Approvers: []string{"dba"}, Quorum: 2, Timeout: time.Minute})
	f.engine.Approve(context.Background(), r.ID, alice, "", 0)
	got, err := f.engine.Reject(context.Background(), r.ID, bob, "not during the freeze")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != qgate.ReviewRejected || got.Reason != "rejected by bob: not during the freeze" {
		t.Fatalf("got %+v", got)
	}
	if _, err := f.engine.Approve(context.Background(), r.ID, review.Voter{Identity: "erin", Groups: []string{"dba"}}, "", 0); qgate.ErrorCode(err) != qgate.ECONFLICT {
		t.Fatalf("vote after rejection: got %v, want ECONFLICT", err)
	}
}

func TestEngine_Wait(t *testing.T) {
	ctx := context.Background()
	t.Run("WokenByApproval", func(t *testing.T) {
		f := MustEngine(t)
		r := f.create(t)
		done := make(chan *qgate.Review)
		go func() {
			got, _ := f.engine.Wait(ctx, r.ID)
			done <- got
		}()
		time.Sleep(20 * time.Millisecond)
		f.engine.Approve(ctx, r.ID, alice, "", 0)
		select {
		case got := <-done:
			if got.Status != qgate.ReviewApproved {
				t.Fatalf("got %s", got.Status)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("waiter was not woken")
		}
	})
	t.Run("Expires", func(t *testing.T) {
		f := MustEngine(t)
		f.engine.Now = time.Now
		r := f.create(t, qgate.ReviewRequirement{Policy: "p", Approvers: []string{"dba"}, Quorum: 1, Timeout: 50 * time.Millisecond})
		got, err := f.engine.Wait(ctx, r.ID)
		if err != nil || got.Status != qgate.ReviewExpired {
			t.Fatalf("got %v %+v", err, got)
		}
		if _, err := f.engine.Approve(ctx, r.ID, alice, "", 0); qgate.ErrorCode(err) != qgate.ECONFLICT {
			t.Fatalf("approve after expiry: got %v", err)
		}
	})
	t.Run("ContextEnds", func(t *testing.T) {
		f := MustEngine(t)
		r := f.create(t)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		got, err := f.engine.Wait(cctx, r.ID)
		if !errors.Is(err, context.DeadlineExceeded) || got.Status != qgate.ReviewPending {
			t.Fatalf("got %v %+v", err, got)
		}
	})
}

func TestEngine_ExpireByClock(t *testing.T) {
	f := MustEngine(t)
	r := f.create(t)
	f.advance(59 * time.Second)
	if got, _ := f.engine.Get(context.Background(), r.ID); got.Status != qgate.ReviewPending {
		t.Fatalf("before timeout: %s", got.Status)
	}
	f.advance(2 * time.Second)
	if got, _ := f.engine.Get(context.Background(), r.ID); got.Status != qgate.ReviewExpired {
		t.Fatalf("after timeout: %s", got.Status)
	}
}

func TestEngine_Cancel(t *testing.T) {
	f := MustEngine(t)
	r := f.create(t)
	got, err := f.engine.Cancel(context.Background(), r.ID, "client disconnected")
	if err != nil || got.Status != qgate.ReviewCancelled {
		t.Fatalf("got %v %+v", err, got)
	}
	// Cancelling an approved review changes nothing.
	r2 := f.create(t)
	f.engine.Approve(context.Background(), r2.ID, alice, "", 0)
	if got, _ := f.engine.Cancel(context.Background(), r2.ID, "late"); got.Status != qgate.ReviewApproved {
		t.Fatalf("cancel after approval: got %s", got.Status)
	}
}

func TestEngine_Execute(t *testing.T) {
	ctx := context.Background()
	f := MustEngine(t)
	r := f.create(t)
	if _, err := f.engine.Execute(ctx, r.ID, "tok-carol", r.PayloadHash); qgate.ErrorCode(err) != qgate.EFORBIDDEN {
		t.Fatalf("execute while pending: got %v", err)
	}
	f.engine.Approve(ctx, r.ID, alice, "", 0)
	if _, err := f.engine.Execute(ctx, r.ID, "tok-other", r.PayloadHash); qgate.ErrorCode(err) != qgate.EFORBIDDEN {
		t.Fatalf("other token: got %v", err)
	}
	if _, err := f.engine.Execute(ctx, r.ID, "tok-carol", review.Hash("DELETE FROM t")); qgate.ErrorCode(err) != qgate.EFORBIDDEN {
		t.Fatalf("other payload: got %v", err)
	}
	if _, err := f.engine.Execute(ctx, r.ID, "tok-carol", r.PayloadHash); err != nil {
		t.Fatalf("first execute: %v", err)
	}
	if _, err := f.engine.Execute(ctx, r.ID, "tok-carol", r.PayloadHash); qgate.ErrorCode(err) != qgate.ECONFLICT {
		t.Fatalf("second execute: got %v, want ECONFLICT", err)
	}
}

func TestEngine_Grant(t *testing.T) {
	ctx := context.Background()
	f := MustEngine(t)
	r := f.create(t)
	if _, err := f.engine.Approve(ctx, r.ID, alice, "", 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	g, err := f.store.ActiveGrant(ctx, "tok-carol", "db", "sql:abc", f.engine.Now())
	if err != nil {
		t.Fatalf("no grant: %v", err)
	}
	if got := g.ExpiresAt.Sub(f.engine.Now()); got != 30*time.Minute || g.CreatedBy != "alice" || g.ReviewID != r.ID {
		t.Fatalf("grant: got %+v", g)
	}
	// Without a grant window, no grant.
	r2 := f.create(t)
	f.engine.Approve(ctx, r2.ID, alice, "", 0)
	gs, _ := f.store.ListGrants(ctx, time.Time{})
	if len(gs) != 1 {
		t.Fatalf("grants: got %d, want 1", len(gs))
	}
}

// TestEngine_ConcurrentApprovals races eight approvers on a quorum-two
// review: it must become approved exactly once, with every vote counted
// once (run with -race).
func TestEngine_ConcurrentApprovals(t *testing.T) {
	f := MustEngine(t)
	r := f.create(t, qgate.ReviewRequirement{Policy: "p", Approvers: []string{"dba"}, Quorum: 2, Timeout: time.Minute})
	events, cancel := f.engine.Subscribe(64)
	defer cancel()
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v := review.Voter{Identity: string(rune('a'+i)) + "-approver", Groups: []string{"dba"}}
			if _, err := f.engine.Approve(context.Background(), r.ID, v, "", 0); err == nil {
				ok.Add(1)
			} else if qgate.ErrorCode(err) != qgate.ECONFLICT {
				t.Errorf("approver %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	got, _ := f.engine.Get(context.Background(), r.ID)
	if got.Status != qgate.ReviewApproved || len(got.Votes) != 2 || ok.Load() != 2 {
		t.Fatalf("status %s, %d votes, %d successful approvals; want approved, 2, 2", got.Status, len(got.Votes), ok.Load())
	}
	decided := 0
	for len(events) > 0 {
		if ev := <-events; ev.Type == qgate.ReviewDecided {
			decided++
		}
	}
	if decided != 1 {
		t.Fatalf("decided events: got %d, want 1", decided)
	}
	f.log.Close()
	if rep, err := audit.Verify(context.Background(), f.store); err != nil || !rep.OK {
		t.Fatalf("audit chain: %v %+v", err, rep)
	}
}

// TestEngine_Changed checks the hook for a store shared by replicas: a
// waiter on one engine wakes when told that another engine changed the
// review, long before the review would expire.
func TestEngine_Changed(t *testing.T) {
	f := MustEngine(t)
	r := f.create(t)
	other := review.New(f.store, f.store, f.log) // another replica, same store
	other.Now = f.engine.Now
	done := make(chan *qgate.Review, 1)
	go func() {
		got, _ := f.engine.Wait(context.Background(), r.ID)
		done <- got
	}()
	time.Sleep(20 * time.Millisecond)
	if _, err := other.Approve(context.Background(), r.ID, alice, "", 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Fatal("the waiter woke without being told (the replicas share no hub)")
	case <-time.After(50 * time.Millisecond):
	}
	f.engine.Changed(r.ID)
	select {
	case got := <-done:
		if got.Status != qgate.ReviewApproved {
			t.Fatalf("got %s", got.Status)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Changed did not wake the waiter")
	}
}
