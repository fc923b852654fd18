package storetest

import (
	"testing"
	"time"

	"github.com/qgate/qgate"
)

func newGrant(token, target, shape string, created time.Time, ttl time.Duration) *qgate.Grant {
	return &qgate.Grant{
		TokenID:   token,
		Target:    target,
		Shape:     shape,
		ReviewID:  7,
		CreatedBy: "bob",
		CreatedAt: created,
		ExpiresAt: created.Add(ttl),
	}
}

func testGrantActive(t *testing.T, open func(*testing.T) qgate.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		g := newGrant("tok1", "db1", "SELECT $1", t0, time.Hour)
		mustNoErr(t, s.CreateGrant(ctx(), g))
		if g.ID == 0 {
			t.Fatal("CreateGrant did not set ID")
		}
		got, err := s.ActiveGrant(ctx(), "tok1", "db1", "SELECT $1", at(time.Minute))
		mustNoErr(t, err)
		sameJSON(t, "grant", got, g)
	})
	t.Run("Newest", func(t *testing.T) {
		s := open(t)
		old := newGrant("tok1", "db1", "S", t0, 2*time.Hour)
		newer := newGrant("tok1", "db1", "S", at(time.Minute), time.Hour)
		mustNoErr(t, s.CreateGrant(ctx(), old))
		mustNoErr(t, s.CreateGrant(ctx(), newer))
		got, err := s.ActiveGrant(ctx(), "tok1", "db1", "S", at(2*time.Minute))
		mustNoErr(t, err)
		if got.ID != newer.ID {
			t.Fatalf("ActiveGrant = %d, want the newest %d", got.ID, newer.ID)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		s := open(t)
		mustNoErr(t, s.CreateGrant(ctx(), newGrant("tok1", "db1", "S", t0, time.Hour)))
		// Expiry is exclusive: at ExpiresAt the grant is over.
		_, err := s.ActiveGrant(ctx(), "tok1", "db1", "S", at(time.Hour))
		wantCode(t, err, qgate.ENOTFOUND)
		_, err = s.ActiveGrant(ctx(), "tok1", "db1", "S", at(time.Hour-time.Nanosecond))
		mustNoErr(t, err)
	})
	t.Run("ErrRevoked", func(t *testing.T) {
		s := open(t)
		g := newGrant("tok1", "db1", "S", t0, time.Hour)
		mustNoErr(t, s.CreateGrant(ctx(), g))
		mustNoErr(t, s.RevokeGrant(ctx(), g.ID, at(time.Minute)))
		_, err := s.ActiveGrant(ctx(), "tok1", "db1", "S", at(30*time.Second))
		wantCode(t, err, qgate.ENOTFOUND)
	})
	t.Run("ErrOtherKey", func(t *testing.T) {
		s := open(t)
		mustNoErr(t, s.CreateGrant(ctx(), newGrant("tok1", "db1", "S", t0, time.Hour)))
		for _, k := range [][3]string{{"tok2", "db1", "S"}, {"tok1", "db2", "S"}, {"tok1", "db1", "T"}} {
			_, err := s.ActiveGrant(ctx(), k[0], k[1], k[2], at(time.Minute))
			wantCode(t, err, qgate.ENOTFOUND)
		}
	})
}

func testGrantList(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	a := newGrant("tok1", "db1", "A", t0, time.Hour)
	b := newGrant("tok1", "db1", "B", at(time.Minute), 10*time.Minute)
	c := newGrant("tok2", "db2", "C", at(2*time.Minute), time.Hour)
	for _, g := range []*qgate.Grant{a, b, c} {
		mustNoErr(t, s.CreateGrant(ctx(), g))
	}
	mustNoErr(t, s.RevokeGrant(ctx(), c.ID, at(3*time.Minute)))

	ids := func(activeAt time.Time) []int64 {
		t.Helper()
		gs, err := s.ListGrants(ctx(), activeAt)
		mustNoErr(t, err)
		var ids []int64
		for _, g := range gs {
			ids = append(ids, g.ID)
		}
		return ids
	}
	sameJSON(t, "active at +5m", ids(at(5*time.Minute)), []int64{b.ID, a.ID})
	sameJSON(t, "active at +30m", ids(at(30*time.Minute)), []int64{a.ID})
	sameJSON(t, "active at +2h", ids(at(2*time.Hour)), []int64(nil))
	sameJSON(t, "all (zero time)", ids(time.Time{}), []int64{c.ID, b.ID, a.ID})
}

func testGrantRevoke(t *testing.T, open func(*testing.T) qgate.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		g := newGrant("tok1", "db1", "S", t0, time.Hour)
		mustNoErr(t, s.CreateGrant(ctx(), g))
		mustNoErr(t, s.RevokeGrant(ctx(), g.ID, at(time.Minute)))
		mustNoErr(t, s.RevokeGrant(ctx(), g.ID, at(time.Hour)))
		gs, err := s.ListGrants(ctx(), time.Time{})
		mustNoErr(t, err)
		if len(gs) != 1 {
			t.Fatalf("got %d grants, want 1", len(gs))
		}
		wantTime(t, "RevokedAt", gs[0].RevokedAt, at(time.Minute))
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		wantCode(t, s.RevokeGrant(ctx(), 4242, t0), qgate.ENOTFOUND)
	})
}
