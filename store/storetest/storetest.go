package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/qgate/qgate"
)

// Run runs the whole suite. open must return a new, empty store for each
// call and close it when t ends (t.Cleanup). Subtests run one at a time.
func Run(t *testing.T, open func(t *testing.T) qgate.Store) {
	t.Run("TokenStore_Create", func(t *testing.T) { testTokenCreate(t, open) })
	t.Run("TokenStore_List", func(t *testing.T) { testTokenList(t, open) })
	t.Run("TokenStore_Revoke", func(t *testing.T) { testTokenRevoke(t, open) })
	t.Run("TokenStore_Rotate", func(t *testing.T) { testTokenRotate(t, open) })
	t.Run("TokenStore_Touch", func(t *testing.T) { testTokenTouch(t, open) })
	t.Run("IdentityStore_Upsert", func(t *testing.T) { testIdentityUpsert(t, open) })
	t.Run("IdentityStore_List", func(t *testing.T) { testIdentityList(t, open) })
	t.Run("UserStore_Create", func(t *testing.T) { testUserCreate(t, open) })
	t.Run("UserStore_List", func(t *testing.T) { testUserList(t, open) })
	t.Run("UserStore_Password", func(t *testing.T) { testUserPassword(t, open) })
	t.Run("UserStore_Disable", func(t *testing.T) { testUserDisable(t, open) })
	t.Run("SessionStore_Create", func(t *testing.T) { testSessionCreate(t, open) })
	t.Run("SessionStore_List", func(t *testing.T) { testSessionList(t, open) })
	t.Run("SessionStore_Touch", func(t *testing.T) { testSessionTouch(t, open) })
	t.Run("SessionStore_Revoke", func(t *testing.T) { testSessionRevoke(t, open) })
	t.Run("SessionStore_DeleteEnded", func(t *testing.T) { testSessionDeleteEnded(t, open) })
	t.Run("ReviewStore_Create", func(t *testing.T) { testReviewCreate(t, open) })
	t.Run("ReviewStore_List", func(t *testing.T) { testReviewList(t, open) })
	t.Run("ReviewStore_UpdateCAS", func(t *testing.T) { testReviewUpdateCAS(t, open) })
	t.Run("GrantStore_ActiveGrant", func(t *testing.T) { testGrantActive(t, open) })
	t.Run("GrantStore_List", func(t *testing.T) { testGrantList(t, open) })
	t.Run("GrantStore_Revoke", func(t *testing.T) { testGrantRevoke(t, open) })
	t.Run("AuditStore_Append", func(t *testing.T) { testAuditAppend(t, open) })
	t.Run("AuditStore_AppendConcurrent", func(t *testing.T) { testAuditAppendConcurrent(t, open) })
	t.Run("AuditStore_List", func(t *testing.T) { testAuditList(t, open) })
	t.Run("AuditStore_Scan", func(t *testing.T) { testAuditScan(t, open) })
}

// t0 is the suite's reference time; stores must keep nanoseconds.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ctx() context.Context { return context.Background() }

// wantCode fails t unless err carries the qgate error code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := qgate.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (err %v), want %q", got, err, code)
	}
}

func mustNoErr(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func wantTime(tb testing.TB, name string, got, want time.Time) {
	tb.Helper()
	if !got.Equal(want) {
		tb.Fatalf("%s = %v, want %v", name, got, want)
	}
}

// sameJSON fails tb unless got and want marshal to the same JSON.
func sameJSON(tb testing.TB, name string, got, want any) {
	tb.Helper()
	g, err := json.Marshal(got)
	mustNoErr(tb, err)
	w, err := json.Marshal(want)
	mustNoErr(tb, err)
	if string(g) != string(w) {
		tb.Fatalf("%s:\n got %s\nwant %s", name, g, w)
	}
}
