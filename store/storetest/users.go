package storetest

import (
	"testing"
	"time"

	"github.com/qgate/qgate"
)

func wantUser(tb testing.TB, got, want *qgate.User) {
	tb.Helper()
	sameJSON(tb, "user", got, want)
	if got.PasswordHash != want.PasswordHash {
		tb.Fatalf("PasswordHash = %q, want %q", got.PasswordHash, want.PasswordHash)
	}
	wantTime(tb, "CreatedAt", got.CreatedAt, want.CreatedAt)
	wantTime(tb, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	wantTime(tb, "DisabledAt", got.DisabledAt, want.DisabledAt)
}

const phc = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"

func testUserCreate(t *testing.T, open func(*testing.T) qgate.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		want := &qgate.User{Name: "alice", Email: "alice@example.com", PasswordHash: phc, CreatedAt: t0}
		mustNoErr(t, s.CreateUser(ctx(), want))
		got, err := s.User(ctx(), "alice")
		mustNoErr(t, err)
		wantUser(t, got, want)
		if got.Disabled() {
			t.Fatal("a new user is disabled")
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		s := open(t)
		mustNoErr(t, s.CreateUser(ctx(), &qgate.User{Name: "alice", PasswordHash: phc, CreatedAt: t0}))
		err := s.CreateUser(ctx(), &qgate.User{Name: "alice", PasswordHash: "other", CreatedAt: t0})
		wantCode(t, err, qgate.ECONFLICT)
		got, err := s.User(ctx(), "alice")
		mustNoErr(t, err)
		if got.PasswordHash != phc {
			t.Fatalf("a conflicting create replaced the hash: %q", got.PasswordHash)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.User(ctx(), "nobody")
		wantCode(t, err, qgate.ENOTFOUND)
	})
}

func testUserList(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	for _, name := range []string{"carol", "alice", "bob"} {
		mustNoErr(t, s.CreateUser(ctx(), &qgate.User{Name: name, PasswordHash: phc, CreatedAt: t0}))
	}
	mustNoErr(t, s.DisableUser(ctx(), "bob", at(time.Hour)))
	us, err := s.ListUsers(ctx())
	mustNoErr(t, err)
	var names []string
	for _, u := range us {
		names = append(names, u.Name)
	}
	sameJSON(t, "names", names, []string{"alice", "bob", "carol"})
	if !us[1].Disabled() || us[0].Disabled() {
		t.Fatalf("disabled: alice %v, bob %v", us[0].Disabled(), us[1].Disabled())
	}
}

func testUserPassword(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	mustNoErr(t, s.CreateUser(ctx(), &qgate.User{Name: "alice", PasswordHash: phc, CreatedAt: t0}))
	mustNoErr(t, s.SetUserPassword(ctx(), "alice", "new-hash", at(time.Minute)))
	got, err := s.User(ctx(), "alice")
	mustNoErr(t, err)
	if got.PasswordHash != "new-hash" {
		t.Fatalf("PasswordHash = %q", got.PasswordHash)
	}
	wantTime(t, "UpdatedAt", got.UpdatedAt, at(time.Minute))
	wantTime(t, "CreatedAt", got.CreatedAt, t0)
	wantCode(t, s.SetUserPassword(ctx(), "nobody", "x", t0), qgate.ENOTFOUND)
}

func testUserDisable(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	mustNoErr(t, s.CreateUser(ctx(), &qgate.User{Name: "alice", PasswordHash: phc, CreatedAt: t0}))
	mustNoErr(t, s.DisableUser(ctx(), "alice", at(time.Hour)))
	mustNoErr(t, s.DisableUser(ctx(), "alice", at(2*time.Hour)))
	got, err := s.User(ctx(), "alice")
	mustNoErr(t, err)
	wantTime(t, "DisabledAt", got.DisabledAt, at(time.Hour))
	wantCode(t, s.DisableUser(ctx(), "nobody", t0), qgate.ENOTFOUND)
}
