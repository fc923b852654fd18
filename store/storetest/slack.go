package storetest

import (
	"context"
	"testing"

	"github.com/qgate/qgate"
)

// SlackMessageStore is a store that also keeps Slack message references
// (notify/slack.MessageStore). Reviews are needed to refer to.
type SlackMessageStore interface {
	qgate.ReviewStore
	SaveSlackMessage(ctx context.Context, reviewID int64, channel, ts string) error
	SlackMessage(ctx context.Context, reviewID int64) (channel, ts string, err error)
}

// RunSlackMessages checks a SlackMessageStore. open must return a new,
// empty store for each call and close it when t ends.
func RunSlackMessages(t *testing.T, open func(t *testing.T) SlackMessageStore) {
	t.Run("SaveAndGet", func(t *testing.T) {
		s := open(t)
		r1, r2 := newReview("billing-db", "alice", t0), newReview("billing-db", "bob", t0)
		mustNoErr(t, s.CreateReview(ctx(), r1))
		mustNoErr(t, s.CreateReview(ctx(), r2))
		mustNoErr(t, s.SaveSlackMessage(ctx(), r1.ID, "C0REVIEWS", "1700000000.000100"))
		mustNoErr(t, s.SaveSlackMessage(ctx(), r2.ID, "C0OTHER", "1700000000.000200"))
		for _, c := range []struct {
			id          int64
			channel, ts string
		}{{r1.ID, "C0REVIEWS", "1700000000.000100"}, {r2.ID, "C0OTHER", "1700000000.000200"}} {
			ch, ts, err := s.SlackMessage(ctx(), c.id)
			mustNoErr(t, err)
			if ch != c.channel || ts != c.ts {
				t.Fatalf("review %d: message %s/%s, want %s/%s", c.id, ch, ts, c.channel, c.ts)
			}
		}
	})
	t.Run("Replace", func(t *testing.T) {
		s := open(t)
		r := newReview("billing-db", "alice", t0)
		mustNoErr(t, s.CreateReview(ctx(), r))
		mustNoErr(t, s.SaveSlackMessage(ctx(), r.ID, "C0REVIEWS", "1700000000.000100"))
		mustNoErr(t, s.SaveSlackMessage(ctx(), r.ID, "C0REVIEWS", "1700000000.000900"))
		_, ts, err := s.SlackMessage(ctx(), r.ID)
		mustNoErr(t, err)
		if ts != "1700000000.000900" {
			t.Fatalf("ts = %s after replacing, want 1700000000.000900", ts)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		r := newReview("billing-db", "alice", t0)
		mustNoErr(t, s.CreateReview(ctx(), r))
		_, _, err := s.SlackMessage(ctx(), r.ID)
		wantCode(t, err, qgate.ENOTFOUND)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		s := open(t)
		r := newReview("billing-db", "alice", t0)
		mustNoErr(t, s.CreateReview(ctx(), r))
		wantCode(t, s.SaveSlackMessage(ctx(), r.ID, "", "1700000000.000100"), qgate.EINVALID)
		wantCode(t, s.SaveSlackMessage(ctx(), r.ID, "C0REVIEWS", ""), qgate.EINVALID)
		wantCode(t, s.SaveSlackMessage(ctx(), r.ID+1000, "C0REVIEWS", "1700000000.000100"), qgate.EINVALID)
		_, _, err := s.SlackMessage(ctx(), r.ID+1000)
		wantCode(t, err, qgate.ENOTFOUND)
	})
}
