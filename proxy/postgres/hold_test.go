package pgproxy_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/qgate/qgate"
)

// A client that pipelines another query behind a held one and then
// disconnects has gone: the review is withdrawn at once, and approving it
// afterwards runs nothing.
func TestProxy_HoldClientGoneAfterPipelining(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pc, err := pgconn.Connect(ctx, e.connString(e.tokenID, e.token))
	if err != nil {
		t.Fatal(err)
	}
	hc, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	c := hc.Conn
	b, _ := (&pgproto3.Query{String: "DELETE FROM accounts WHERE id = 9"}).Encode(nil)
	c.Write(b)
	rv := e.pendingReview()
	b, _ = (&pgproto3.Query{String: "SELECT 1"}).Encode(nil)
	c.Write(b)
	time.Sleep(100 * time.Millisecond) // qgate reads the pipelined query
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := e.reviews.Get(ctx, rv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == qgate.ReviewCancelled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("review %s 5s after the client left, want cancelled", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.reviews.Approve(ctx, rv.ID, e.voter("alice"), "late", 0)
	time.Sleep(100 * time.Millisecond)
	if n := e.count("SELECT count(*) FROM accounts WHERE id = 9"); n != 1 {
		t.Fatal("the statement of a client that had gone ran")
	}
}
