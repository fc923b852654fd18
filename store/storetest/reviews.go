package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qgate/qgate"
)

func newReview(target, requester string, created time.Time) *qgate.Review {
	return &qgate.Review{
		Status:      qgate.ReviewPending,
		Protocol:    qgate.ProtocolPostgres,
		Target:      target,
		Environment: "prod",
		RequestID:   "req-" + requester,
		Requester:   requester,
		TokenID:     "tok-" + requester,
		SourceIP:    "10.0.0.7",
		Payload:     "UPDATE accounts SET balance = 0 WHERE id = 'x' -- ünïcode\n",
		PayloadHash: "5f2b",
		Shape:       "UPDATE accounts SET balance = $1 WHERE id = $2",
		Decision: qgate.Decision{
			Action:  qgate.ActionReview,
			Matched: []qgate.MatchedPolicy{{Name: "prod-writes-need-a-dba", Action: qgate.ActionReview}},
			Requirements: []qgate.ReviewRequirement{
				{Policy: "prod-writes-need-a-dba", Approvers: []string{"dba"}, Quorum: 1, Timeout: 15 * time.Minute},
			},
			Risk: qgate.NewRisk([]qgate.Finding{{Code: "write", Severity: qgate.SeverityMedium, Message: "writes", Start: 0, End: 6}}),
		},
		CreatedAt: created,
		ExpiresAt: created.Add(15 * time.Minute),
	}
}

func testReviewCreate(t *testing.T, open func(*testing.T) qgate.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		want := newReview("billing-db", "alice", t0)
		mustNoErr(t, s.CreateReview(ctx(), want))
		if want.ID == 0 || want.Version != 1 {
			t.Fatalf("ID, Version = %d, %d; want ID set and Version 1", want.ID, want.Version)
		}
		got, err := s.Review(ctx(), want.ID)
		mustNoErr(t, err)
		sameJSON(t, "review", got, want)
		if got.Decision.Requirements[0].Timeout != 15*time.Minute {
			t.Fatalf("requirement timeout = %v", got.Decision.Requirements[0].Timeout)
		}

		other := newReview("billing-db", "bob", t0)
		mustNoErr(t, s.CreateReview(ctx(), other))
		if other.ID == want.ID {
			t.Fatalf("two reviews got ID %d", other.ID)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.Review(ctx(), 12345)
		wantCode(t, err, qgate.ENOTFOUND)
	})
}

func testReviewList(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	r1 := newReview("db1", "alice", at(1*time.Second))
	r2 := newReview("db2", "bob", at(2*time.Second))
	r3 := newReview("db1", "bob", at(3*time.Second))
	for _, r := range []*qgate.Review{r1, r2, r3} {
		mustNoErr(t, s.CreateReview(ctx(), r))
	}
	r2.Status = qgate.ReviewApproved
	mustNoErr(t, s.UpdateReview(ctx(), r2))

	for _, tc := range []struct {
		name string
		f    qgate.ReviewFilter
		want []*qgate.Review
	}{
		{"All", qgate.ReviewFilter{}, []*qgate.Review{r3, r2, r1}},
		{"Status", qgate.ReviewFilter{Status: qgate.ReviewPending}, []*qgate.Review{r3, r1}},
		{"Target", qgate.ReviewFilter{Target: "db1"}, []*qgate.Review{r3, r1}},
		{"Requester", qgate.ReviewFilter{Requester: "bob"}, []*qgate.Review{r3, r2}},
		{"Combined", qgate.ReviewFilter{Requester: "bob", Status: qgate.ReviewApproved}, []*qgate.Review{r2}},
		{"Limit", qgate.ReviewFilter{Limit: 2}, []*qgate.Review{r3, r2}},
		{"None", qgate.ReviewFilter{Target: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListReviews(ctx(), tc.f)
			mustNoErr(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d reviews, want %d", len(got), len(tc.want))
			}
			for i := range got {
				sameJSON(t, fmt.Sprintf("review %d", i), got[i], tc.want[i])
			}
		})
	}
}

func testReviewUpdateCAS(t *testing.T, open func(*testing.T) qgate.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		r := newReview("db1", "alice", t0)
		mustNoErr(t, s.CreateReview(ctx(), r))
		r.Status = qgate.ReviewApproved
		r.Votes = []qgate.Vote{{Identity: "bob", Groups: []string{"dba"}, Approve: true, Comment: "ok", Grant: "30m", At: at(time.Minute)}}
		r.DecidedAt = at(time.Minute)
		r.Reason = "approved by bob"
		mustNoErr(t, s.UpdateReview(ctx(), r))
		if r.Version != 2 {
			t.Fatalf("Version = %d, want 2", r.Version)
		}
		got, err := s.Review(ctx(), r.ID)
		mustNoErr(t, err)
		sameJSON(t, "review", got, r)

		r.ExecutedAt = at(2 * time.Minute)
		mustNoErr(t, s.UpdateReview(ctx(), r))
		got, err = s.Review(ctx(), r.ID)
		mustNoErr(t, err)
		sameJSON(t, "review", got, r)
		if got.Version != 3 {
			t.Fatalf("stored Version = %d, want 3", got.Version)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		s := open(t)
		r := newReview("db1", "alice", t0)
		mustNoErr(t, s.CreateReview(ctx(), r))
		stale := *r
		r.Status = qgate.ReviewApproved
		mustNoErr(t, s.UpdateReview(ctx(), r))
		stale.Status = qgate.ReviewRejected
		wantCode(t, s.UpdateReview(ctx(), &stale), qgate.ECONFLICT)
		if stale.Version != 1 {
			t.Fatalf("a lost update changed Version to %d", stale.Version)
		}
		got, err := s.Review(ctx(), r.ID)
		mustNoErr(t, err)
		if got.Status != qgate.ReviewApproved {
			t.Fatalf("Status = %q, want approved", got.Status)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		r := newReview("db1", "alice", t0)
		r.ID, r.Version = 999, 1
		wantCode(t, s.UpdateReview(ctx(), r), qgate.ENOTFOUND)
	})
	t.Run("Concurrent", func(t *testing.T) {
		// Several approvers race on the same version: exactly one wins,
		// every other gets ECONFLICT.
		s := open(t)
		const rounds, racers = 10, 8
		r := newReview("db1", "alice", t0)
		mustNoErr(t, s.CreateReview(ctx(), r))
		for round := 0; round < rounds; round++ {
			var wg sync.WaitGroup
			errs := make([]error, racers)
			copies := make([]*qgate.Review, racers)
			for i := range racers {
				c := *r
				c.Reason = fmt.Sprintf("round %d racer %d", round, i)
				copies[i] = &c
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = s.UpdateReview(ctx(), copies[i])
				}()
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch qgate.ErrorCode(err) {
				case "":
					if winner >= 0 {
						t.Fatalf("round %d: racers %d and %d both won", round, winner, i)
					}
					winner = i
				case qgate.ECONFLICT:
				default:
					t.Fatalf("round %d racer %d: %v", round, i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: nobody won", round)
			}
			got, err := s.Review(ctx(), r.ID)
			mustNoErr(t, err)
			if got.Reason != copies[winner].Reason || got.Version != r.Version+1 {
				t.Fatalf("round %d: stored %q v%d, want the winner's %q v%d",
					round, got.Reason, got.Version, copies[winner].Reason, r.Version+1)
			}
			r = copies[winner]
		}
	})
}
