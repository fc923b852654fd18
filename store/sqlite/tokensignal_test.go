package sqlite_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/auth"
	"github.com/qgate/qgate/internal/syncbuf"
	"github.com/qgate/qgate/store/sqlite"
)

var _ auth.TokenVersioner = (*sqlite.DB)(nil)

// TestTokensVersion: a revocation or rotation committed through one handle
// (another process) changes the version another handle sees, within
// TokenVersionRecheck; a use does not.
func TestTokensVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "qgate.db")
	a := MustOpenAt(t, path)
	b := MustOpenAt(t, path)
	version := func() uint64 {
		t.Helper()
		time.Sleep(sqlite.TokenVersionRecheck)
		v, ok := a.TokensVersion()
		if !ok {
			t.Fatal("TokensVersion: cannot tell")
		}
		return v
	}
	v0 := version()
	if err := b.CreateToken(ctx, &qgate.Token{ID: "tok1", Identity: "alice", SecretHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	if err := b.TouchToken(ctx, "tok1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != v0 {
		t.Fatalf("a new token and a use changed the version %d -> %d", v0, v)
	}
	if err := b.RotateToken(ctx, "tok1", []byte("h2"), "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	v1 := version()
	if v1 == v0 {
		t.Fatal("a rotation did not change the version")
	}
	if err := b.RevokeToken(ctx, "tok1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	v2 := version()
	if v2 == v1 {
		t.Fatal("a revocation did not change the version")
	}
	// The file deleted under a running gateway (its open handle): the
	// next announcement, in a new file, is still seen.
	if err := os.Remove(path + "-tokens"); err != nil {
		t.Fatal(err)
	}
	v3 := version()
	if err := b.RevokeToken(ctx, "tok1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v := version(); v == v3 {
		t.Fatalf("an announcement after the file was deleted went unseen (%d, %d, %d)", v2, v3, v)
	}
	// A change through the same handle (the gateway's own API) is seen at
	// the next call, without waiting for a recheck.
	v4, _ := a.TokensVersion()
	if err := a.RevokeToken(ctx, "tok1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.TokensVersion(); v == v4 {
		t.Fatalf("the handle's own revocation went unseen (%d)", v)
	}
	mem := MustOpenAt(t, "file:"+filepath.Join(t.TempDir(), "other.db")+"?mode=rwc")
	if _, ok := mem.TokensVersion(); ok {
		t.Fatal("a URI database claims to announce token changes")
	}
}

// TestAuthenticator_RevokedByAnotherProcess: with the default settings a
// gateway keeps verified tokens, yet a revocation or a rotation made by
// another process on the same file (qgate token revoke) acts at its first
// call TokenVersionRecheck later.
func TestAuthenticator_RevokedByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "qgate.db")
	key := bytes.Repeat([]byte("k"), 32)
	gw := MustOpenAt(t, path)
	cli := MustOpenAt(t, path)
	gateway, operator := auth.New(gw, key), auth.New(cli, key)

	token, tok, err := operator.Issue(ctx, auth.IssueRequest{Identity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := gateway.Verify(ctx, token); err != nil {
			t.Fatal(err)
		}
	}
	rotated, err := operator.Rotate(ctx, tok.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(sqlite.TokenVersionRecheck)
	if _, err := gateway.Verify(ctx, token); err == nil {
		t.Fatal("the old secret still verified after a rotation without grace")
	}
	if _, err := gateway.Verify(ctx, rotated); err != nil {
		t.Fatal(err)
	}
	if err := operator.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(sqlite.TokenVersionRecheck)
	if _, err := gateway.Verify(ctx, rotated); err == nil {
		t.Fatal("a token revoked by another process still verified")
	}
}

// TestTokensVersion_AnnounceFails: a revocation or rotation whose
// announcement cannot be written still succeeds (it is committed) and is
// logged.
func TestTokensVersion_AnnounceFails(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "qgate.db")
	// A directory where the file should be: it can be neither appended
	// to nor created.
	if err := os.Mkdir(path+"-tokens", 0o700); err != nil {
		t.Fatal(err)
	}
	db := MustOpenAt(t, path)
	logs := &syncbuf.Buffer{}
	db.Logger = slog.New(slog.NewTextHandler(logs, nil))
	if err := db.CreateToken(ctx, &qgate.Token{ID: "tok1", Identity: "alice", SecretHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	if err := db.RotateToken(ctx, "tok1", []byte("h2"), "", time.Time{}); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if err := db.RevokeToken(ctx, "tok1", time.Time{}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	tok, err := db.Token(ctx, "tok1")
	if err != nil {
		t.Fatal(err)
	}
	if tok.RevokedAt.IsZero() || string(tok.SecretHash) != "h2" {
		t.Fatalf("token after rotate and revoke: %+v", tok)
	}
	for _, op := range []string{"rotate token", "revoke token"} {
		if !strings.Contains(logs.String(), op+": done, but running gateways could not be told") {
			t.Errorf("no warning for %s in %q", op, logs.String())
		}
	}
}
