package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
)

// rawData is deliberately not compact and holds characters JSON encoders
// like to escape: a store must give back exactly these bytes.
const rawData = "{\"b\": 1,  \"a\": [ ],\n \"s\": \"<ünï & \\u00e9>\"}"

func newEvent(typ, action string, tm time.Time) *qgate.AuditEvent {
	return &qgate.AuditEvent{Time: tm, Type: typ, Action: action}
}

// wantEvent compares every field, Data byte for byte.
func wantEvent(tb testing.TB, got, want *qgate.AuditEvent) {
	tb.Helper()
	if string(got.Data) != string(want.Data) {
		tb.Fatalf("seq %d: Data = %q, want %q", want.Seq, got.Data, want.Data)
	}
	wantTime(tb, fmt.Sprintf("seq %d: Time", want.Seq), got.Time, want.Time)
	g, w := *got, *want
	g.Data, w.Data, g.Time, w.Time = nil, nil, time.Time{}, time.Time{}
	sameJSON(tb, fmt.Sprintf("seq %d", want.Seq), g, w)
}

func mustVerify(tb testing.TB, s qgate.AuditStore, events int64) audit.Report {
	tb.Helper()
	rep, err := audit.Verify(ctx(), s)
	mustNoErr(tb, err)
	if !rep.OK || rep.Events != events || rep.LastSeq != events {
		tb.Fatalf("verify: %+v, want OK with %d events", rep, events)
	}
	return rep
}

func testAuditAppend(t *testing.T, open func(*testing.T) qgate.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		zone := time.FixedZone("UTC+2", 2*3600)
		first := []*qgate.AuditEvent{
			{Time: t0.In(zone), Type: qgate.AuditRequest, Action: "allow", RequestID: "r1", TokenID: "tok1",
				Identity: "alice", Target: "db1", Environment: "prod", Data: []byte(rawData)},
			{Time: at(time.Nanosecond), Type: qgate.AuditReview, Action: "created", ReviewID: 42},
			{Time: at(2 * time.Nanosecond), Type: qgate.AuditAdmin, Action: "noted"},
		}
		mustNoErr(t, s.AppendAudit(ctx(), first))
		second := []*qgate.AuditEvent{newEvent(qgate.AuditVote, "approved", at(time.Second)), newEvent(qgate.AuditExecution, "ok", at(2*time.Second))}
		mustNoErr(t, s.AppendAudit(ctx(), second))
		all := append(first, second...)

		prev := ""
		for i, e := range all {
			if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != e.ChainHash() {
				t.Fatalf("event %d: seq %d prev %q hash %q; want seq %d prev %q and hash == ChainHash",
					i, e.Seq, e.PrevHash, e.Hash, i+1, prev)
			}
			prev = e.Hash
		}
		got, err := s.ListAudit(ctx(), qgate.AuditFilter{})
		mustNoErr(t, err)
		if len(got) != len(all) {
			t.Fatalf("listed %d events, want %d", len(got), len(all))
		}
		for i := range got {
			wantEvent(t, got[i], all[i])
		}
		mustVerify(t, s, 5)
	})
	t.Run("ZeroTime", func(t *testing.T) {
		s := open(t)
		e := &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"}
		mustNoErr(t, s.AppendAudit(ctx(), []*qgate.AuditEvent{e}))
		if e.Time.IsZero() {
			t.Fatal("a zero Time was not set by the store")
		}
		mustVerify(t, s, 1)
	})
	t.Run("Empty", func(t *testing.T) {
		s := open(t)
		mustNoErr(t, s.AppendAudit(ctx(), nil))
		mustVerify(t, s, 0)
	})
	t.Run("ErrInvalidAllOrNothing", func(t *testing.T) {
		s := open(t)
		good := newEvent(qgate.AuditAdmin, "ok", t0)
		bad := newEvent(qgate.AuditAdmin, "bad", t0)
		bad.Data = []byte("{not json")
		wantCode(t, s.AppendAudit(ctx(), []*qgate.AuditEvent{good, bad}), qgate.EINVALID)
		if good.Seq != 0 || good.Hash != "" {
			t.Fatalf("failed append set seq %d hash %q", good.Seq, good.Hash)
		}
		mustVerify(t, s, 0)
		mustNoErr(t, s.AppendAudit(ctx(), []*qgate.AuditEvent{good}))
		if good.Seq != 1 {
			t.Fatalf("seq after a failed append = %d, want 1", good.Seq)
		}
	})
}

func testAuditAppendConcurrent(t *testing.T, open func(*testing.T) qgate.Store) {
	// 16 goroutines append 200 events each, in calls of 1 to 4 events:
	// the store must keep one unbroken chain.
	const writers, perWriter = 16, 200
	s := open(t)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	appended := make([][]*qgate.AuditEvent, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < perWriter; {
				size := min(1+n%4, perWriter-n)
				batch := make([]*qgate.AuditEvent, size)
				for i := range batch {
					batch[i] = &qgate.AuditEvent{Time: at(time.Duration(n + i)), Type: qgate.AuditRequest,
						Action: "allow", RequestID: fmt.Sprintf("w%d-%d", w, n+i), Data: []byte(`{"n":1}`)}
				}
				if err := s.AppendAudit(ctx(), batch); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				for i := 1; i < len(batch); i++ {
					if batch[i].Seq != batch[i-1].Seq+1 {
						errs <- fmt.Errorf("writer %d: one call's events got seqs %d and %d", w, batch[i-1].Seq, batch[i].Seq)
						return
					}
				}
				appended[w] = append(appended[w], batch...)
				n += size
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mustVerify(t, s, writers*perWriter)

	bySeq := map[int64]string{}
	mustNoErr(t, s.ScanAudit(ctx(), 0, func(e *qgate.AuditEvent) error {
		bySeq[e.Seq] = e.RequestID
		return nil
	}))
	for _, es := range appended {
		for _, e := range es {
			if bySeq[e.Seq] != e.RequestID {
				t.Fatalf("seq %d holds %q, but the append of %q returned it", e.Seq, bySeq[e.Seq], e.RequestID)
			}
		}
	}
}

func testAuditList(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	events := []*qgate.AuditEvent{
		{Time: at(0), Type: qgate.AuditRequest, Action: "allow", TokenID: "tok1", Identity: "alice", Target: "db1", Environment: "prod", RequestID: "r1"},
		{Time: at(1 * time.Second), Type: qgate.AuditRequest, Action: "deny", TokenID: "tok2", Identity: "bob", Target: "db2", RequestID: "r2"},
		{Time: at(2 * time.Second), Type: qgate.AuditReview, Action: "created", TokenID: "tok1", Identity: "alice", Target: "db1", RequestID: "r1", ReviewID: 7},
		{Time: at(3 * time.Second), Type: qgate.AuditVote, Action: "approved", Identity: "bob", ReviewID: 7},
		{Time: at(4 * time.Second), Type: qgate.AuditExecution, Action: "ok", TokenID: "tok1", Identity: "alice", Target: "db1", RequestID: "r1"},
	}
	mustNoErr(t, s.AppendAudit(ctx(), events))

	for _, tc := range []struct {
		name string
		f    qgate.AuditFilter
		want []int64
	}{
		{"All", qgate.AuditFilter{}, []int64{1, 2, 3, 4, 5}},
		{"TokenID", qgate.AuditFilter{TokenID: "tok1"}, []int64{1, 3, 5}},
		{"Identity", qgate.AuditFilter{Identity: "bob"}, []int64{2, 4}},
		{"Target", qgate.AuditFilter{Target: "db2"}, []int64{2}},
		{"Type", qgate.AuditFilter{Type: qgate.AuditRequest}, []int64{1, 2}},
		{"Action", qgate.AuditFilter{Action: "deny"}, []int64{2}},
		{"RequestID", qgate.AuditFilter{RequestID: "r1"}, []int64{1, 3, 5}},
		{"ReviewID", qgate.AuditFilter{ReviewID: 7}, []int64{3, 4}},
		{"SinceInclusive", qgate.AuditFilter{Since: at(3 * time.Second)}, []int64{4, 5}},
		{"UntilExclusive", qgate.AuditFilter{Until: at(2 * time.Second)}, []int64{1, 2}},
		{"SinceUntil", qgate.AuditFilter{Since: at(1 * time.Second), Until: at(3 * time.Second)}, []int64{2, 3}},
		{"Environment", qgate.AuditFilter{Environment: "prod"}, []int64{1}},
		{"AfterSeq", qgate.AuditFilter{AfterSeq: 3}, []int64{4, 5}},
		{"BeforeSeq", qgate.AuditFilter{BeforeSeq: 3}, []int64{1, 2}},
		{"DescBeforeSeqLimit", qgate.AuditFilter{Desc: true, BeforeSeq: 5, Limit: 2}, []int64{4, 3}},
		{"AfterBeforeSeq", qgate.AuditFilter{AfterSeq: 1, BeforeSeq: 4}, []int64{2, 3}},
		{"Limit", qgate.AuditFilter{Limit: 2}, []int64{1, 2}},
		{"Desc", qgate.AuditFilter{Desc: true}, []int64{5, 4, 3, 2, 1}},
		{"DescLimit", qgate.AuditFilter{Desc: true, Limit: 2}, []int64{5, 4}},
		{"DescAfterSeq", qgate.AuditFilter{Desc: true, AfterSeq: 3}, []int64{5, 4}},
		{"Combined", qgate.AuditFilter{TokenID: "tok1", Type: qgate.AuditRequest, Action: "allow"}, []int64{1}},
		{"None", qgate.AuditFilter{Identity: "carol"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, err := s.ListAudit(ctx(), tc.f)
			mustNoErr(t, err)
			var got []int64
			for _, e := range es {
				got = append(got, e.Seq)
				wantEvent(t, e, events[e.Seq-1])
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("seqs = %v, want %v", got, tc.want)
			}
		})
	}
}

func testAuditScan(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	var events []*qgate.AuditEvent
	for i := range 2500 { // more than one page in a paging store
		e := newEvent(qgate.AuditAdmin, "n", at(time.Duration(i)))
		if i%100 == 0 {
			e.Data = []byte(rawData)
		}
		events = append(events, e)
	}
	mustNoErr(t, s.AppendAudit(ctx(), events))

	t.Run("OK", func(t *testing.T) {
		var n int
		mustNoErr(t, s.ScanAudit(ctx(), 0, func(e *qgate.AuditEvent) error {
			wantEvent(t, e, events[n])
			n++
			return nil
		}))
		if n != len(events) {
			t.Fatalf("scanned %d events, want %d", n, len(events))
		}
	})
	t.Run("AfterSeq", func(t *testing.T) {
		var seqs []int64
		mustNoErr(t, s.ScanAudit(ctx(), 2497, func(e *qgate.AuditEvent) error {
			seqs = append(seqs, e.Seq)
			return nil
		}))
		if !slices.Equal(seqs, []int64{2498, 2499, 2500}) {
			t.Fatalf("seqs = %v", seqs)
		}
	})
	t.Run("Stop", func(t *testing.T) {
		stop := errors.New("stop")
		var n int
		err := s.ScanAudit(ctx(), 0, func(e *qgate.AuditEvent) error {
			if n++; n == 1500 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 1500 {
			t.Fatalf("err %v after %d events; want the callback's error after 1500", err, n)
		}
	})
}
