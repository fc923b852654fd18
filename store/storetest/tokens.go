package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/qgate/qgate"
)

func newToken(id, identity string, created time.Time) *qgate.Token {
	return &qgate.Token{
		ID:           id,
		Name:         id + "-name",
		Identity:     identity,
		Roles:        []string{"reader", "writer"},
		Targets:      []string{"billing-db"},
		Environments: []string{"prod", "staging"},
		SecretHash:   []byte("hash-of-" + id),
		SCRAM:        "SCRAM-SHA-256$4096:c2FsdA==$a:b",
		CreatedAt:    created,
		ExpiresAt:    created.Add(24 * time.Hour),
	}
}

func wantToken(tb testing.TB, got, want *qgate.Token) {
	tb.Helper()
	sameJSON(tb, "token", got, want)
	if !bytes.Equal(got.SecretHash, want.SecretHash) {
		tb.Fatalf("SecretHash = %q, want %q", got.SecretHash, want.SecretHash)
	}
	if !bytes.Equal(got.PrevSecretHash, want.PrevSecretHash) {
		tb.Fatalf("PrevSecretHash = %q, want %q", got.PrevSecretHash, want.PrevSecretHash)
	}
	if got.SCRAM != want.SCRAM || got.PrevSCRAM != want.PrevSCRAM {
		tb.Fatalf("SCRAM = %q/%q, want %q/%q", got.SCRAM, got.PrevSCRAM, want.SCRAM, want.PrevSCRAM)
	}
	wantTime(tb, "PrevValidUntil", got.PrevValidUntil, want.PrevValidUntil)
	wantTime(tb, "CreatedAt", got.CreatedAt, want.CreatedAt)
	wantTime(tb, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	wantTime(tb, "RevokedAt", got.RevokedAt, want.RevokedAt)
	wantTime(tb, "LastUsed", got.LastUsed, want.LastUsed)
}

func testTokenCreate(t *testing.T, open func(*testing.T) qgate.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		want := newToken("tok1", "alice", t0)
		mustNoErr(t, s.CreateToken(ctx(), want))
		got, err := s.Token(ctx(), "tok1")
		mustNoErr(t, err)
		wantToken(t, got, want)
	})
	t.Run("Minimal", func(t *testing.T) {
		s := open(t)
		want := &qgate.Token{ID: "tok1", Identity: "ci-bot", SecretHash: []byte{0, 1, 2, 255}, CreatedAt: t0}
		mustNoErr(t, s.CreateToken(ctx(), want))
		got, err := s.Token(ctx(), "tok1")
		mustNoErr(t, err)
		wantToken(t, got, want)
		if got.Roles != nil || got.Targets != nil || got.Environments != nil {
			t.Fatalf("nil lists came back as %#v %#v %#v", got.Roles, got.Targets, got.Environments)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		s := open(t)
		mustNoErr(t, s.CreateToken(ctx(), newToken("tok1", "alice", t0)))
		wantCode(t, s.CreateToken(ctx(), newToken("tok1", "bob", t0)), qgate.ECONFLICT)
		got, err := s.Token(ctx(), "tok1")
		mustNoErr(t, err)
		if got.Identity != "alice" {
			t.Fatalf("conflicting create overwrote the token: identity %q", got.Identity)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.Token(ctx(), "nope")
		wantCode(t, err, qgate.ENOTFOUND)
	})
}

func testTokenList(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	// Created out of order: the list is ordered by creation time.
	mustNoErr(t, s.CreateToken(ctx(), newToken("c", "alice", at(3*time.Second))))
	mustNoErr(t, s.CreateToken(ctx(), newToken("a", "alice", at(1*time.Second))))
	mustNoErr(t, s.CreateToken(ctx(), newToken("b", "bob", at(2*time.Second))))
	mustNoErr(t, s.RevokeToken(ctx(), "c", at(time.Hour)))

	ids := func(f qgate.TokenFilter) []string {
		t.Helper()
		ts, err := s.ListTokens(ctx(), f)
		mustNoErr(t, err)
		var ids []string
		for _, tok := range ts {
			ids = append(ids, tok.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		name string
		f    qgate.TokenFilter
		want []string
	}{
		{"Active", qgate.TokenFilter{}, []string{"a", "b"}},
		{"IncludeRevoked", qgate.TokenFilter{IncludeRevoked: true}, []string{"a", "b", "c"}},
		{"Identity", qgate.TokenFilter{Identity: "alice"}, []string{"a"}},
		{"IdentityIncludeRevoked", qgate.TokenFilter{Identity: "alice", IncludeRevoked: true}, []string{"a", "c"}},
		{"None", qgate.TokenFilter{Identity: "carol"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(tc.f); !slices.Equal(got, tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
		})
	}
}

func testTokenRevoke(t *testing.T, open func(*testing.T) qgate.Store) {
	t.Run("OK", func(t *testing.T) {
		s := open(t)
		mustNoErr(t, s.CreateToken(ctx(), newToken("tok1", "alice", t0)))
		mustNoErr(t, s.RevokeToken(ctx(), "tok1", at(time.Minute)))
		got, err := s.Token(ctx(), "tok1")
		mustNoErr(t, err)
		wantTime(t, "RevokedAt", got.RevokedAt, at(time.Minute))
		if got.Active(at(2 * time.Minute)) {
			t.Fatal("revoked token is active")
		}
	})
	t.Run("Twice", func(t *testing.T) {
		s := open(t)
		mustNoErr(t, s.CreateToken(ctx(), newToken("tok1", "alice", t0)))
		mustNoErr(t, s.RevokeToken(ctx(), "tok1", at(time.Minute)))
		mustNoErr(t, s.RevokeToken(ctx(), "tok1", at(time.Hour)))
		got, err := s.Token(ctx(), "tok1")
		mustNoErr(t, err)
		wantTime(t, "RevokedAt", got.RevokedAt, at(time.Minute))
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		wantCode(t, s.RevokeToken(ctx(), "nope", t0), qgate.ENOTFOUND)
	})
}

func testTokenRotate(t *testing.T, open func(*testing.T) qgate.Store) {
	t.Run("Grace", func(t *testing.T) {
		s := open(t)
		tok := newToken("tok1", "alice", t0)
		mustNoErr(t, s.CreateToken(ctx(), tok))
		grace := at(10 * time.Minute)
		mustNoErr(t, s.RotateToken(ctx(), "tok1", []byte("new-hash"), "new-scram", grace))
		got, err := s.Token(ctx(), "tok1")
		mustNoErr(t, err)
		want := *tok
		want.SecretHash, want.SCRAM = []byte("new-hash"), "new-scram"
		want.PrevSecretHash, want.PrevSCRAM, want.PrevValidUntil = tok.SecretHash, tok.SCRAM, grace
		wantToken(t, got, &want)

		// A second rotation moves the first new secret to prev.
		mustNoErr(t, s.RotateToken(ctx(), "tok1", []byte("newer-hash"), "newer-scram", at(20*time.Minute)))
		got, err = s.Token(ctx(), "tok1")
		mustNoErr(t, err)
		if string(got.PrevSecretHash) != "new-hash" || got.PrevSCRAM != "new-scram" {
			t.Fatalf("prev = %q/%q, want new-hash/new-scram", got.PrevSecretHash, got.PrevSCRAM)
		}
		wantTime(t, "PrevValidUntil", got.PrevValidUntil, at(20*time.Minute))
	})
	t.Run("NoGrace", func(t *testing.T) {
		s := open(t)
		tok := newToken("tok1", "alice", t0)
		mustNoErr(t, s.CreateToken(ctx(), tok))
		mustNoErr(t, s.RotateToken(ctx(), "tok1", []byte("a"), "sa", at(time.Minute)))
		mustNoErr(t, s.RotateToken(ctx(), "tok1", []byte("b"), "sb", time.Time{}))
		got, err := s.Token(ctx(), "tok1")
		mustNoErr(t, err)
		want := *tok
		want.SecretHash, want.SCRAM = []byte("b"), "sb"
		wantToken(t, got, &want)
		if len(got.PrevSecretHash) != 0 || got.PrevSCRAM != "" || !got.PrevValidUntil.IsZero() {
			t.Fatalf("prev not cleared: %q %q %v", got.PrevSecretHash, got.PrevSCRAM, got.PrevValidUntil)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := open(t)
		wantCode(t, s.RotateToken(ctx(), "nope", []byte("x"), "y", t0), qgate.ENOTFOUND)
	})
}

func testTokenTouch(t *testing.T, open func(*testing.T) qgate.Store) {
	s := open(t)
	mustNoErr(t, s.CreateToken(ctx(), newToken("tok1", "alice", t0)))
	mustNoErr(t, s.TouchToken(ctx(), "tok1", at(time.Minute)))
	got, err := s.Token(ctx(), "tok1")
	mustNoErr(t, err)
	wantTime(t, "LastUsed", got.LastUsed, at(time.Minute))
}
