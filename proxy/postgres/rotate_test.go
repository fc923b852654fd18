package pgproxy_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/qgate/qgate"
)

// testClock is a settable clock shared by the authenticator and the proxy.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// A rotated token's previous secret logs in over SCRAM during the grace
// period only; without a grace period, not at all. A refused old secret
// reads exactly like a wrong password and is audited.
func TestProxy_RotationGrace(t *testing.T) {
	t.Parallel()
	clock := &testClock{now: time.Now()}
	e := newEnv(t, func(p *pgproxyProxy) { p.Now = clock.Now })
	e.auth.Now = clock.Now
	ctx := context.Background()
	login := func(token string) error {
		t.Helper()
		conn, err := pgx.Connect(ctx, e.connString(e.tokenID, token))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var one int
		return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	}
	wantRefused := func(what string, err error) {
		t.Helper()
		var pe *pgconn.PgError
		if !errorsAs(err, &pe) || pe.Severity != "FATAL" || pe.Code != "28P01" || pe.Message != `password authentication failed for user "`+e.tokenID+`"` {
			t.Fatalf("%s: err = %v, want the wrong-password error", what, err)
		}
	}
	wrong := e.token[:len(e.token)-3] + "xyz"
	var wrongErr error
	wantRefused("wrong secret", func() error { wrongErr = login(wrong); return wrongErr }())

	old := e.token
	fresh, err := e.auth.Rotate(ctx, e.tokenID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := login(old); err != nil {
		t.Fatalf("old token inside the grace period: %v", err)
	}
	if err := login(fresh); err != nil {
		t.Fatalf("new token inside the grace period: %v", err)
	}

	clock.Add(time.Hour + time.Second)
	err = login(old)
	wantRefused("old token after the grace period", err)
	if err.Error() != wrongErr.Error() {
		t.Errorf("old token after grace: %q; wrong secret: %q", err, wrongErr)
	}
	if err := login(fresh); err != nil {
		t.Fatalf("new token after the grace period: %v", err)
	}

	// Without a grace period the previous secret is refused at once.
	newest, err := e.auth.Rotate(ctx, e.tokenID, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantRefused("previous token after a rotation without grace", login(fresh))
	wantRefused("original token after two rotations", login(old))
	if err := login(newest); err != nil {
		t.Fatalf("newest token: %v", err)
	}

	fails := e.audit(qgate.AuditFilter{Type: qgate.AuditAuth, Action: "failed"})
	if len(fails) != 4 {
		t.Fatalf("%d failed logins audited, want 4", len(fails))
	}
	for _, f := range fails {
		if f.TokenID != e.tokenID || f.Identity != "carol" || !strings.Contains(string(f.Data), `"reason":"bad_secret"`) {
			t.Errorf("audited failure = %s %s %s", f.TokenID, f.Identity, f.Data)
		}
	}
}
