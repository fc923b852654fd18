package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/web"
)

func TestTokens(t *testing.T) {
	t.Run("AdminCreates", func(t *testing.T) {
		e := MustEnv(t)
		var got web.Token
		code, body := e.Do(t, "root", "POST", "/api/v1/tokens",
			`{"identity": "ci-bot", "name": "deploys", "roles": ["deploy"], "targets": ["billing-db"], "ttl": "24h"}`)
		if code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, body)
		}
		json.Unmarshal(body, &got)
		if got.Identity != "ci-bot" || got.Name != "deploys" || got.Status != "active" || got.ExpiresAt.IsZero() ||
			!strings.HasPrefix(got.Secret, "qgt_"+got.ID+"_") {
			t.Fatalf("got %+v", got)
		}
		// The secret works, and is never shown again.
		if _, err := e.Auth.Verify(context.Background(), got.Secret); err != nil {
			t.Fatalf("new token does not verify: %v", err)
		}
		_, list := e.Do(t, "root", "GET", "/api/v1/tokens?identity=ci-bot", "")
		if !strings.Contains(string(list), got.ID) || strings.Contains(string(list), got.Secret[len(got.Secret)-20:]) {
			t.Fatalf("list: %s", list)
		}
		for _, leak := range []string{"hash", "scram", "SCRAM", "secret"} {
			if strings.Contains(string(body)+string(list), leak) {
				t.Fatalf("token JSON mentions %q: %s %s", leak, body, list)
			}
		}
		evs := e.AuditEvents(t, qgate.AuditToken)
		if len(evs) != 1 || evs[0].Action != "created" || evs[0].Identity != "root" || evs[0].TokenID != got.ID ||
			!strings.Contains(string(evs[0].Data), `"by":"root"`) || strings.Contains(string(evs[0].Data), got.Secret) {
			t.Fatalf("audit: %+v", evs)
		}
	})

	t.Run("ErrNotAdmin", func(t *testing.T) {
		e := MustEnv(t)
		e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "only admins", "alice", "POST", "/api/v1/tokens", `{"identity": "alice"}`)
		if evs := e.AuditEvents(t, qgate.AuditToken); len(evs) != 0 {
			t.Fatalf("audit: %+v", evs)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		e := MustEnv(t)
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "identity is required", "root", "POST", "/api/v1/tokens", `{}`)
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "ttl", "root", "POST", "/api/v1/tokens", `{"identity": "x", "ttl": "soon"}`)
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "unknown field", "root", "POST", "/api/v1/tokens", `{"identity": "x", "admin": true}`)
	})

	t.Run("ListOwnOrAll", func(t *testing.T) {
		e := MustEnv(t)
		var own []web.Token
		e.MustDo(t, http.StatusOK, &own, "alice", "GET", "/api/v1/tokens", "")
		if len(own) != 1 || own[0].Identity != "alice" || own[0].Secret != "" {
			t.Fatalf("alice sees %+v", own)
		}
		e.MustDo(t, http.StatusOK, &own, "alice", "GET", "/api/v1/tokens?identity=bob", "")
		if len(own) != 0 {
			t.Fatalf("alice sees bob's: %+v", own)
		}
		var all []web.Token
		e.MustDo(t, http.StatusOK, &all, "root", "GET", "/api/v1/tokens", "")
		if len(all) != 7 {
			t.Fatalf("root sees %d tokens, want 7", len(all))
		}
	})

	t.Run("RevokeByOwnerOrAdmin", func(t *testing.T) {
		e := MustEnv(t)
		aliceID, bobID := e.TokenID(t, "alice"), e.TokenID(t, "bob")
		e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "owner", "alice", "POST", "/api/v1/tokens/"+bobID+"/revoke", "")
		e.MustProblem(t, http.StatusNotFound, qgate.ENOTFOUND, "", "root", "POST", "/api/v1/tokens/nosuchtoken1/revoke", "")
		var got web.Token
		e.MustDo(t, http.StatusOK, &got, "root", "POST", "/api/v1/tokens/"+bobID+"/revoke", "")
		if got.Status != "revoked" || got.RevokedAt.IsZero() {
			t.Fatalf("got %+v", got)
		}
		e.MustProblem(t, http.StatusUnauthorized, qgate.EUNAUTHORIZED, "invalid token", "bob", "GET", "/api/v1/me", "")
		e.MustProblem(t, http.StatusConflict, qgate.ECONFLICT, "already revoked", "root", "POST", "/api/v1/tokens/"+bobID+"/revoke", "")
		// Alice revokes her own, with it.
		e.MustDo(t, http.StatusOK, nil, "alice", "POST", "/api/v1/tokens/"+aliceID+"/revoke", "")
		e.MustProblem(t, http.StatusUnauthorized, qgate.EUNAUTHORIZED, "", "alice", "GET", "/api/v1/me", "")

		evs := e.AuditEvents(t, qgate.AuditToken)
		if len(evs) != 2 || evs[0].Identity != "root" || evs[0].TokenID != bobID || evs[1].Identity != "alice" || evs[1].Action != "revoked" {
			t.Fatalf("audit: %+v", evs)
		}
	})

	t.Run("RotateByOwnerOrAdmin", func(t *testing.T) {
		e := MustEnv(t)
		aliceID := e.TokenID(t, "alice")
		old := e.Token("alice")
		e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "owner", "bob", "POST", "/api/v1/tokens/"+aliceID+"/rotate", "")
		e.MustProblem(t, http.StatusBadRequest, qgate.EINVALID, "grace", "alice", "POST", "/api/v1/tokens/"+aliceID+"/rotate", `{"grace": "-1h"}`)
		var got web.Token
		e.MustDo(t, http.StatusOK, &got, "alice", "POST", "/api/v1/tokens/"+aliceID+"/rotate", `{"grace": "1h"}`)
		if got.ID != aliceID || got.Secret == "" || got.Secret == old {
			t.Fatalf("got %+v", got)
		}
		// Both work during the grace period.
		for _, tok := range []string{old, got.Secret} {
			if _, err := e.Auth.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		}
		e.MustDo(t, http.StatusOK, &got, "root", "POST", "/api/v1/tokens/"+aliceID+"/rotate", "")
		if _, err := e.Auth.Verify(context.Background(), old); err == nil {
			t.Fatal("a rotation without grace left the old secret working")
		}
		evs := e.AuditEvents(t, qgate.AuditToken)
		if len(evs) != 2 || evs[0].Action != "rotated" || evs[0].Identity != "alice" || evs[1].Identity != "root" ||
			strings.Contains(string(evs[0].Data), got.Secret) {
			t.Fatalf("audit: %+v", evs)
		}
	})
}

func TestGrants_Revoke(t *testing.T) {
	e := MustEnv(t)
	r := e.MustReview(t, "rita")
	e.MustDo(t, http.StatusOK, nil, "alice", "POST", "/api/v1/reviews/1/approve", `{"grant": "1h"}`)
	var gs []qgate.Grant
	e.MustDo(t, http.StatusOK, &gs, "rita", "GET", "/api/v1/grants", "")
	if len(gs) != 1 || gs[0].ReviewID != r.ID || gs[0].TokenID != e.TokenID(t, "rita") {
		t.Fatalf("rita's grants: %+v", gs)
	}
	e.MustDo(t, http.StatusOK, &gs, "erin", "GET", "/api/v1/grants", "")
	if len(gs) != 0 {
		t.Fatalf("erin sees %+v", gs)
	}
	path := "/api/v1/grants/1/revoke"
	e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "may revoke", "erin", "POST", path, "")
	e.MustProblem(t, http.StatusForbidden, qgate.EFORBIDDEN, "may revoke", "dave", "POST", path, "")
	e.MustProblem(t, http.StatusNotFound, qgate.ENOTFOUND, "grant 7", "root", "POST", "/api/v1/grants/7/revoke", "")
	var g qgate.Grant
	e.MustDo(t, http.StatusOK, &g, "bob", "POST", path, "") // a dba who did not approve it
	if g.RevokedAt.IsZero() {
		t.Fatalf("got %+v", g)
	}
	e.MustProblem(t, http.StatusConflict, qgate.ECONFLICT, "already revoked", "root", "POST", path, "")
	e.MustDo(t, http.StatusOK, &gs, "alice", "GET", "/api/v1/grants", "")
	if len(gs) != 0 {
		t.Fatalf("revoked grant still active: %+v", gs)
	}
	var revoked *qgate.AuditEvent
	for _, ev := range e.AuditEvents(t, qgate.AuditGrant) {
		if ev.Action == "revoked" {
			revoked = ev
		}
	}
	if revoked == nil || revoked.Identity != "bob" || revoked.ReviewID != r.ID || !strings.Contains(string(revoked.Data), `"by":"bob"`) {
		t.Fatalf("audit: %+v", revoked)
	}
}
