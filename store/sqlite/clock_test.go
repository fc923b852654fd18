package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/qgate/qgate"
)

// TestDB_Now checks that timestamps a caller leaves zero come from the
// injected clock.
func TestDB_Now(t *testing.T) {
	db := MustOpen(t)
	now := time.Date(2031, 5, 6, 7, 8, 9, 10, time.UTC)
	db.Now = func() time.Time { return now }
	ctx := context.Background()

	tok := &qgate.Token{ID: "t1", Identity: "alice"}
	if err := db.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeToken(ctx, "t1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Token(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(now) || !got.RevokedAt.Equal(now) {
		t.Fatalf("CreatedAt, RevokedAt = %v, %v; want %v", got.CreatedAt, got.RevokedAt, now)
	}

	r := &qgate.Review{Target: "db"}
	if err := db.CreateReview(ctx, r); err != nil {
		t.Fatal(err)
	}
	if !r.CreatedAt.Equal(now) || r.Status != qgate.ReviewPending {
		t.Fatalf("review CreatedAt, Status = %v, %q", r.CreatedAt, r.Status)
	}

	id := &qgate.Identity{Name: "alice"}
	if err := db.UpsertIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	if !id.CreatedAt.Equal(now) {
		t.Fatalf("identity CreatedAt = %v", id.CreatedAt)
	}

	e := &qgate.AuditEvent{Type: qgate.AuditAdmin, Action: "x"}
	if err := db.AppendAudit(ctx, []*qgate.AuditEvent{e}); err != nil {
		t.Fatal(err)
	}
	if !e.Time.Equal(now) {
		t.Fatalf("audit Time = %v", e.Time)
	}
}

func TestCreateGrant_ErrNoExpiry(t *testing.T) {
	db := MustOpen(t)
	err := db.CreateGrant(context.Background(), &qgate.Grant{TokenID: "t", Target: "db", Shape: "s"})
	if qgate.ErrorCode(err) != qgate.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
}
