package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/qgate/qgate"
)

func newSession(id, identity string, created time.Time) *qgate.Session {
	return &qgate.Session{
		ID:          id,
		SecretHash:  []byte("hash-of-" + id),
		Identity:    identity,
		Method:      qgate.SessionLocal,
		CreatedAt:   created,
		LastSeenAt:  created,
		ExpiresAt:   created.Add(12 * time.Hour),
		IdleTimeout: time.Hour,
		SourceIP:    "192.0.2.1",
		UserAgent:   "Mozilla/5.0 (test)",
	}
}

func wantSession(tb testing.TB, got, want *qgate.Session) {
	tb.Helper()
	sameJSON(tb, "session", got, want)
	if !bytes.Equal(got.SecretHash, want.SecretHash) {
		tb.Fatalf("SecretHash = %q, want %q", got.SecretHash, want.SecretHash)
	}
	wantTime(tb, "CreatedAt", got.CreatedAt, want.CreatedAt)
	wantTime(tb, "LastSeenAt", got.LastSeenAt, want.LastSeenAt)
	wantTime(tb, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	wantTime(tb, "RevokedAt", got.RevokedAt, want.RevokedAt)
}

func testSessionCreate(t *testing.T, open func(*testing.T) qgate.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		want := newSession("s1", "alice", t0)
		mustNoErr(t, s.CreateSession(ctx(), want))
		got, err := s.Session(ctx(), "s1")
		mustNoErr(t, err)
		wantSession(t, got, want)
		if got.Groups != nil {
			t.Fatalf("Groups = %#v, want nil for a local session", got.Groups)
		}
		got, err = s.SessionBySecret(ctx(), []byte("hash-of-s1"))
		mustNoErr(t, err)
		wantSession(t, got, want)
	})
	t.Run("OIDCGroups", func(t *testing.T) {
		s := open(t)
		want := newSession("s1", "alice@example.com", t0)
		want.Method, want.Groups = qgate.SessionOIDC, []string{"dba", "eng"}
		mustNoErr(t, s.CreateSession(ctx(), want))
		got, err := s.Session(ctx(), "s1")
		mustNoErr(t, err)
		wantSession(t, got, want)
	})
	t.Run("ErrConflict", func(t *testing.T) {
		s := open(t)
		mustNoErr(t, s.CreateSession(ctx(), newSession("s1", "alice", t0)))
		wantCode(t, s.CreateSession(ctx(), newSession("s1", "bob", t0)), qgate.ECONFLICT)
		other := newSession("s2", "bob", t0)
		other.SecretHash = []byte("hash-of-s1")
		wantCode(t, s.CreateSession(ctx(), other), qgate.ECONFLICT)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.Session(ctx(), "nope")
		wantCode(t, err, qgate.ENOTFOUND)
		_, err = s.SessionBySecret(ctx(), []byte("nope"))
		wantCode(t, err, qgate.ENOTFOUND)
	})
}

func testSessionList(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	mustNoErr(t, s.CreateSession(ctx(), newSession("a1", "alice", t0)))
	mustNoErr(t, s.CreateSession(ctx(), newSession("b1", "bob", at(time.Minute))))
	mustNoErr(t, s.CreateSession(ctx(), newSession("a2", "alice", at(2*time.Minute))))
	old := newSession("a0", "alice", at(-24*time.Hour)) // expired by t0
	mustNoErr(t, s.CreateSession(ctx(), old))
	mustNoErr(t, s.RevokeSession(ctx(), "b1", at(3*time.Minute)))

	ids := func(f qgate.SessionFilter) []string {
		ss, err := s.ListSessions(ctx(), f)
		mustNoErr(t, err)
		out := []string{}
		for _, x := range ss {
			out = append(out, x.ID)
		}
		return out
	}
	sameJSON(t, "all", ids(qgate.SessionFilter{}), []string{"a2", "b1", "a1", "a0"})
	sameJSON(t, "alice", ids(qgate.SessionFilter{Identity: "alice"}), []string{"a2", "a1", "a0"})
	sameJSON(t, "active", ids(qgate.SessionFilter{ActiveAt: at(5 * time.Minute)}), []string{"a2", "a1"})
	sameJSON(t, "bob active", ids(qgate.SessionFilter{Identity: "bob", ActiveAt: at(5 * time.Minute)}), []string{})
}

func testSessionTouch(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	mustNoErr(t, s.CreateSession(ctx(), newSession("s1", "alice", t0)))
	mustNoErr(t, s.TouchSession(ctx(), "s1", at(10*time.Minute)))
	mustNoErr(t, s.TouchSession(ctx(), "s1", at(5*time.Minute))) // late writer: the latest use wins
	got, err := s.Session(ctx(), "s1")
	mustNoErr(t, err)
	wantTime(t, "LastSeenAt", got.LastSeenAt, at(10*time.Minute))
	wantCode(t, s.TouchSession(ctx(), "nope", t0), qgate.ENOTFOUND)
}

func testSessionRevoke(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	for _, id := range []string{"a1", "a2", "a3"} {
		mustNoErr(t, s.CreateSession(ctx(), newSession(id, "alice", t0)))
	}
	mustNoErr(t, s.CreateSession(ctx(), newSession("b1", "bob", t0)))
	mustNoErr(t, s.RevokeSession(ctx(), "a1", at(time.Minute)))
	mustNoErr(t, s.RevokeSession(ctx(), "a1", at(2*time.Minute)))
	got, err := s.Session(ctx(), "a1")
	mustNoErr(t, err)
	wantTime(t, "RevokedAt", got.RevokedAt, at(time.Minute))
	if got.Active(at(3 * time.Minute)) {
		t.Fatal("a revoked session is active")
	}
	wantCode(t, s.RevokeSession(ctx(), "nope", t0), qgate.ENOTFOUND)

	n, err := s.RevokeSessions(ctx(), "alice", at(time.Hour))
	mustNoErr(t, err)
	if n != 2 {
		t.Fatalf("RevokeSessions revoked %d, want 2 (a1 was already revoked)", n)
	}
	got, err = s.Session(ctx(), "a1")
	mustNoErr(t, err)
	wantTime(t, "a1 RevokedAt", got.RevokedAt, at(time.Minute))
	got, err = s.Session(ctx(), "a3")
	mustNoErr(t, err)
	wantTime(t, "a3 RevokedAt", got.RevokedAt, at(time.Hour))
	got, err = s.Session(ctx(), "b1")
	mustNoErr(t, err)
	if !got.RevokedAt.IsZero() {
		t.Fatal("bob's session was revoked with alice's")
	}
}

func testSessionDeleteEnded(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	revoked := newSession("revoked", "alice", t0)
	expired := newSession("expired", "alice", t0)
	expired.ExpiresAt = at(time.Hour)
	idle := newSession("idle", "alice", t0) // idle timeout 1h, last seen at t0
	busy := newSession("busy", "alice", t0)
	fresh := newSession("fresh", "bob", at(47*time.Hour))
	for _, x := range []*qgate.Session{revoked, expired, idle, busy, fresh} {
		mustNoErr(t, s.CreateSession(ctx(), x))
	}
	mustNoErr(t, s.RevokeSession(ctx(), "revoked", at(time.Minute)))
	mustNoErr(t, s.TouchSession(ctx(), "busy", at(11*time.Hour)))
	// At t0+2h: revoked (1m), expired (1h) and idle (1h) ended before
	// it; busy is in use until its lifetime ends at 12h; fresh is new.
	n, err := s.DeleteEndedSessions(ctx(), at(2*time.Hour))
	mustNoErr(t, err)
	if n != 3 {
		t.Fatalf("deleted %d sessions, want 3", n)
	}
	for _, id := range []string{"revoked", "expired", "idle"} {
		_, err := s.Session(ctx(), id)
		wantCode(t, err, qgate.ENOTFOUND)
	}
	for _, id := range []string{"busy", "fresh"} {
		_, err := s.Session(ctx(), id)
		mustNoErr(t, err)
	}
}
