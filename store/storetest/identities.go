package storetest

import (
	"testing"
	"time"

	"github.com/qgate/qgate"
)

func testIdentityUpsert(t *testing.T, open func(*testing.T) qgate.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		want := &qgate.Identity{Name: "alice", Email: "alice@example.com", Kind: "person", CreatedAt: t0}
		mustNoErr(t, s.UpsertIdentity(ctx(), want))
		got, err := s.Identity(ctx(), "alice")
		mustNoErr(t, err)
		sameJSON(t, "identity", got, want)
	})
	t.Run("Update", func(t *testing.T) {
		s := open(t)
		mustNoErr(t, s.UpsertIdentity(ctx(), &qgate.Identity{Name: "alice", Email: "old@example.com", Kind: "person", CreatedAt: t0}))
		upd := &qgate.Identity{Name: "alice", Email: "new@example.com", Kind: "service", CreatedAt: at(time.Hour)}
		mustNoErr(t, s.UpsertIdentity(ctx(), upd))
		got, err := s.Identity(ctx(), "alice")
		mustNoErr(t, err)
		want := &qgate.Identity{Name: "alice", Email: "new@example.com", Kind: "service", CreatedAt: t0}
		sameJSON(t, "identity", got, want)
		// Empty fields (a token issued by name only) keep what is stored.
		mustNoErr(t, s.UpsertIdentity(ctx(), &qgate.Identity{Name: "alice"}))
		got, err = s.Identity(ctx(), "alice")
		mustNoErr(t, err)
		sameJSON(t, "identity after an upsert by name", got, want)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.Identity(ctx(), "nobody")
		wantCode(t, err, qgate.ENOTFOUND)
	})
}

func testIdentityList(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	for _, name := range []string{"carol", "alice", "bob"} {
		mustNoErr(t, s.UpsertIdentity(ctx(), &qgate.Identity{Name: name, CreatedAt: t0}))
	}
	ids, err := s.ListIdentities(ctx())
	mustNoErr(t, err)
	var names []string
	for _, id := range ids {
		names = append(names, id.Name)
	}
	sameJSON(t, "names", names, []string{"alice", "bob", "carol"})
}
