package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qgate/qgate"
)

var testKey = bytes.Repeat([]byte("k"), 32)

type fixture struct {
	a     *Authenticator
	store *memStore
	clock *clock
}

func newFixture() *fixture {
	f := &fixture{store: newMemStore(), clock: newClock()}
	f.a = New(f.store, testKey)
	f.a.Now = f.clock.Now
	return f
}

func (f *fixture) issue(t *testing.T, req IssueRequest) (string, *qgate.Token) {
	t.Helper()
	if req.Identity == "" {
		req.Identity = "alice"
	}
	token, tok, err := f.a.Issue(context.Background(), req)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return token, tok
}

// wantFailure checks that err is a refusal with the given reason and token
// id, and returns the client-facing rendering of err (code, message and
// Error text) so that callers can compare them across reasons.
func wantFailure(t *testing.T, tok *qgate.Token, err error, reason, tokenID string) string {
	t.Helper()
	if tok != nil {
		t.Errorf("Verify: got token %q, want nil", tok.ID)
	}
	if err == nil {
		t.Fatalf("Verify: got no error, want reason %q", reason)
	}
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("Verify: got %T %v, want *AuthError", err, err)
	}
	if ae.Reason != reason {
		t.Errorf("Reason: got %q, want %q", ae.Reason, reason)
	}
	if ae.TokenID != tokenID {
		t.Errorf("TokenID: got %q, want %q", ae.TokenID, tokenID)
	}
	if got := qgate.ErrorCode(err); got != qgate.EUNAUTHORIZED {
		t.Errorf("ErrorCode: got %q, want %q", got, qgate.EUNAUTHORIZED)
	}
	if got := qgate.ErrorMessage(err); got != "invalid token" {
		t.Errorf("ErrorMessage: got %q, want %q", got, "invalid token")
	}
	var qe *qgate.Error
	if !errors.As(err, &qe) {
		t.Fatalf("errors.As(*qgate.Error) failed")
	}
	if strings.Contains(err.Error(), reason) || (tokenID != "" && strings.Contains(err.Error(), tokenID)) {
		t.Errorf("Error() %q reveals the reason or the id", err.Error())
	}
	return fmt.Sprintf("%s|%s|%s|%s|%s", qgate.ErrorCode(err), qgate.ErrorMessage(err), err.Error(), qe.Code, qe.Message)
}

func TestAuthenticator_Issue(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		f := newFixture()
		req := IssueRequest{Identity: "ci-bot", Name: "deploy", Roles: []string{"deployer"}, Targets: []string{"billing-db"}, Environments: []string{"prod"}, TTL: 24 * time.Hour}
		token, tok, err := f.a.Issue(ctx, req)
		if err != nil {
			t.Fatalf("Issue: %v", err)
		}
		id, secret, err := Parse(token)
		if err != nil {
			t.Fatalf("Parse(issued token): %v", err)
		}
		if tok.ID != id {
			t.Errorf("ID: got %q, want %q (from the token)", tok.ID, id)
		}
		stored := f.store.stored(id)
		now := f.clock.Now()
		want := &qgate.Token{
			ID: id, Name: "deploy", Identity: "ci-bot", Roles: []string{"deployer"},
			Targets: []string{"billing-db"}, Environments: []string{"prod"},
			SecretHash: tok.SecretHash, SCRAM: tok.SCRAM,
			CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		}
		if !reflect.DeepEqual(stored, want) {
			t.Errorf("stored token:\n got %#v\nwant %#v", stored, want)
		}
		h := hmac.New(sha256.New, testKey)
		h.Write([]byte(secret))
		if got, want := stored.SecretHash, h.Sum(nil); !bytes.Equal(got, want) {
			t.Errorf("SecretHash: got %x, want HMAC-SHA256(key, secret) %x", got, want)
		}
		if _, err := ParseSCRAMVerifier(stored.SCRAM); err != nil {
			t.Errorf("stored SCRAM: %v", err)
		}
		req.Roles[0] = "changed"
		if got := f.store.stored(id).Roles[0]; got != "deployer" {
			t.Errorf("stored roles alias the request's: got %q", got)
		}
	})
	t.Run("NoTTLNeverExpires", func(t *testing.T) {
		f := newFixture()
		token, tok := f.issue(t, IssueRequest{})
		if !tok.ExpiresAt.IsZero() {
			t.Errorf("ExpiresAt: got %v, want zero", tok.ExpiresAt)
		}
		if tok.Roles == nil {
			t.Errorf("Roles: got nil, want an empty list")
		}
		f.clock.Advance(100 * 365 * 24 * time.Hour)
		if _, err := f.a.Verify(ctx, token); err != nil {
			t.Errorf("Verify after 100 years: %v", err)
		}
	})
	t.Run("Unique", func(t *testing.T) {
		f := newFixture()
		a, ta := f.issue(t, IssueRequest{})
		b, tb := f.issue(t, IssueRequest{})
		if a == b || ta.ID == tb.ID {
			t.Errorf("two issued tokens share an id or a token")
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		for name, req := range map[string]IssueRequest{
			"NoIdentity":    {},
			"BlankIdentity": {Identity: " \t"},
			"NegativeTTL":   {Identity: "alice", TTL: -time.Second},
		} {
			t.Run(name, func(t *testing.T) {
				f := newFixture()
				token, tok, err := f.a.Issue(ctx, req)
				if got := qgate.ErrorCode(err); got != qgate.EINVALID {
					t.Fatalf("ErrorCode: got %q (%v), want %q", got, err, qgate.EINVALID)
				}
				if token != "" || tok != nil {
					t.Errorf("Issue returned a token with an error")
				}
				if n := len(f.store.tokens); n != 0 {
					t.Errorf("store holds %d tokens, want 0", n)
				}
			})
		}
	})
	t.Run("ShortKey", func(t *testing.T) {
		f := newFixture()
		f.a.Key = testKey[:31]
		if _, _, err := f.a.Issue(ctx, IssueRequest{Identity: "alice"}); qgate.ErrorCode(err) != qgate.EINTERNAL {
			t.Fatalf("Issue with a 31-byte key: got %v, want EINTERNAL", err)
		}
	})
	t.Run("RetriesIDConflict", func(t *testing.T) {
		f := newFixture()
		cs := &conflictStore{memStore: f.store, conflicts: 2}
		f.a.Store = cs
		token, _ := f.issue(t, IssueRequest{})
		if _, err := f.a.Verify(ctx, token); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		cs.conflicts = 5
		if _, _, err := f.a.Issue(ctx, IssueRequest{Identity: "alice"}); qgate.ErrorCode(err) != qgate.EINTERNAL {
			t.Fatalf("Issue with endless conflicts: got %v, want EINTERNAL", err)
		}
	})
}

// conflictStore reports an id conflict for the first conflicts creations.
type conflictStore struct {
	*memStore
	conflicts int
}

func (s *conflictStore) CreateToken(ctx context.Context, t *qgate.Token) error {
	if s.conflicts > 0 {
		s.conflicts--
		return qgate.Errorf(qgate.ECONFLICT, "token %s exists", t.ID)
	}
	return s.memStore.CreateToken(ctx, t)
}

// TestStoreNeverHoldsSecret checks every field of every stored token, after
// issuing and after rotating, for the secret and the whole token.
func TestStoreNeverHoldsSecret(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	var tokens []string
	token, tok := f.issue(t, IssueRequest{Name: "n", Roles: []string{"r"}, TTL: time.Hour})
	tokens = append(tokens, token)
	rotated, err := f.a.Rotate(ctx, tok.ID, time.Minute)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	tokens = append(tokens, rotated)
	if _, err := f.a.Verify(ctx, rotated); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	other, _ := f.issue(t, IssueRequest{Identity: "bob"})
	tokens = append(tokens, other)

	stored, err := f.store.ListTokens(ctx, qgate.TokenFilter{IncludeRevoked: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 {
		t.Fatalf("stored tokens: got %d, want 2", len(stored))
	}
	for _, tk := range tokens {
		_, secret, err := Parse(tk)
		if err != nil {
			t.Fatal(err)
		}
		needles := []string{tk, secret, tk[:len(tk)-ChecksumLength]}
		for _, st := range stored {
			for _, needle := range needles {
				scanValue(t, reflect.ValueOf(*st), "Token", needle)
				for _, verb := range []string{"%#v", "%+v", "%v", "%s", "%x", "%q"} {
					if s := fmt.Sprintf(verb, st); strings.Contains(s, needle) {
						t.Errorf("fmt.Sprintf(%q, stored token) contains a secret", verb)
					}
					if s := fmt.Sprintf(verb, *st); strings.Contains(s, needle) {
						t.Errorf("fmt.Sprintf(%q, *stored token) contains a secret", verb)
					}
				}
				b, _ := json.Marshal(st)
				if bytes.Contains(b, []byte(needle)) {
					t.Errorf("JSON of the stored token contains a secret")
				}
			}
		}
	}
}

// scanValue fails if any string or byte slice reachable from v contains
// needle.
func scanValue(t *testing.T, v reflect.Value, path, needle string) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		if strings.Contains(v.String(), needle) {
			t.Errorf("%s contains a secret", path)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if bytes.Contains(v.Bytes(), []byte(needle)) {
				t.Errorf("%s contains a secret", path)
			}
			return
		}
		for i := range v.Len() {
			scanValue(t, v.Index(i), fmt.Sprintf("%s[%d]", path, i), needle)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			scanValue(t, v.Field(i), path+"."+v.Type().Field(i).Name, needle)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			scanValue(t, v.Elem(), path, needle)
		}
	}
}

func TestAuthenticator_Verify(t *testing.T) {
	ctx := context.Background()
	// rendered collects the client-facing rendering of every failure.
	var (
		mu       sync.Mutex
		rendered = map[string]string{}
	)
	record := func(name, s string) {
		mu.Lock()
		defer mu.Unlock()
		rendered[name] = s
	}

	t.Run("OK", func(t *testing.T) {
		f := newFixture()
		token, issued := f.issue(t, IssueRequest{Roles: []string{"reader"}, TTL: time.Hour})
		f.clock.Advance(59 * time.Minute)
		got, err := f.a.Verify(ctx, token)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if got.ID != issued.ID || got.Identity != "alice" || !reflect.DeepEqual(got.Roles, []string{"reader"}) {
			t.Errorf("Verify: got %+v, want token %s of alice with roles [reader]", got, issued.ID)
		}
		if want := f.clock.Now(); !got.LastUsed.Equal(want) || !f.store.stored(issued.ID).LastUsed.Equal(want) {
			t.Errorf("LastUsed: got %v (returned) and %v (stored), want %v", got.LastUsed, f.store.stored(issued.ID).LastUsed, want)
		}
	})
	t.Run("TouchFailureIgnored", func(t *testing.T) {
		f := newFixture()
		token, _ := f.issue(t, IssueRequest{})
		f.store.touchErr = errors.New("disk full")
		if _, err := f.a.Verify(ctx, token); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if f.store.touches != 1 {
			t.Errorf("TouchToken calls: got %d, want 1", f.store.touches)
		}
	})
	t.Run("TouchInterval", func(t *testing.T) {
		f := newFixture()
		token, issued := f.issue(t, IssueRequest{})
		first := f.clock.Now()
		verify := func() *qgate.Token {
			t.Helper()
			got, err := f.a.Verify(ctx, token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !got.LastUsed.Equal(f.clock.Now()) {
				t.Errorf("returned LastUsed: got %v, want now %v", got.LastUsed, f.clock.Now())
			}
			return got
		}
		verify()
		f.clock.Advance(30 * time.Second)
		verify()
		f.clock.Advance(29 * time.Second)
		verify()
		if f.store.touches != 1 || !f.store.stored(issued.ID).LastUsed.Equal(first) {
			t.Errorf("within a minute: got %d touches, stored LastUsed %v; want 1 touch at %v",
				f.store.touches, f.store.stored(issued.ID).LastUsed, first)
		}
		f.clock.Advance(time.Second)
		verify()
		if f.store.touches != 2 || !f.store.stored(issued.ID).LastUsed.Equal(f.clock.Now()) {
			t.Errorf("after a minute: got %d touches, stored LastUsed %v; want 2 touches, the last at %v",
				f.store.touches, f.store.stored(issued.ID).LastUsed, f.clock.Now())
		}
	})
	t.Run("TouchEveryUse", func(t *testing.T) {
		f := newFixture()
		f.a.TouchInterval = 0
		token, _ := f.issue(t, IssueRequest{})
		for range 3 {
			if _, err := f.a.Verify(ctx, token); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}
		if f.store.touches != 3 {
			t.Errorf("TouchToken calls: got %d, want 3", f.store.touches)
		}
	})
	t.Run("TouchConcurrent", func(t *testing.T) {
		f := newFixture()
		token, _ := f.issue(t, IssueRequest{})
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if _, err := f.a.Verify(ctx, token); err != nil {
					t.Errorf("Verify: %v", err)
				}
			})
		}
		wg.Wait()
		if f.store.touches != 1 {
			t.Errorf("TouchToken calls: got %d, want 1", f.store.touches)
		}
	})
	t.Run("RevokedElsewhere", func(t *testing.T) {
		// A revocation made directly in the store (another process) is
		// seen within CacheTTL, and at once without a cache.
		for _, ttl := range []time.Duration{time.Second, 0} {
			f := newFixture()
			f.a.CacheTTL = ttl
			token, issued := f.issue(t, IssueRequest{})
			if _, err := f.a.Verify(ctx, token); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := f.store.RevokeToken(ctx, issued.ID, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
			if ttl > 0 {
				f.clock.Advance(ttl - time.Nanosecond)
				if _, err := f.a.Verify(ctx, token); err != nil {
					t.Fatalf("Verify within CacheTTL: %v", err)
				}
				f.clock.Advance(time.Nanosecond)
			}
			got, err := f.a.Verify(ctx, token)
			wantFailure(t, got, err, ReasonRevoked, issued.ID)
		}
	})
	t.Run("DefaultReadsEveryCall", func(t *testing.T) {
		// Without a cache, a revocation by another process (another
		// Authenticator on the same store) is effective at once.
		f := newFixture()
		token, issued := f.issue(t, IssueRequest{})
		for range 3 {
			if _, err := f.a.Verify(ctx, token); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}
		if got := f.store.reads(); got != 3 {
			t.Fatalf("store reads: got %d, want 3", got)
		}
		other := New(f.a.Store, f.a.Key)
		if err := other.Revoke(ctx, issued.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.a.Verify(ctx, token); err == nil {
			t.Fatal("a token revoked by another process still verified")
		}
	})
	t.Run("VersionedStore", func(t *testing.T) {
		// A store that announces token changes lets the default keep a
		// token until the next change (or VersionedCacheTTL), and a
		// change made anywhere acts at the next call.
		f := newFixture()
		vs := &versionedStore{memStore: f.store, ok: true}
		f.a.Store = vs
		token, issued := f.issue(t, IssueRequest{})
		verify := func(wantReads int) {
			t.Helper()
			if _, err := f.a.Verify(ctx, token); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got := f.store.reads(); got != wantReads {
				t.Fatalf("store reads: got %d, want %d", got, wantReads)
			}
		}
		verify(1)
		verify(1)
		vs.version++ // some token changed somewhere
		verify(2)
		f.clock.Advance(VersionedCacheTTL - time.Nanosecond)
		verify(2)
		f.clock.Advance(time.Nanosecond)
		verify(3)
		vs.ok = false // cannot tell: read every call
		verify(4)
		verify(5)
		vs.ok = true // the same version as the kept copy's: still good
		verify(5)
		other := New(vs, f.a.Key) // another process
		if err := other.Revoke(ctx, issued.ID); err != nil {
			t.Fatal(err)
		}
		vs.version++ // the store announces it
		got, err := f.a.Verify(ctx, token)
		wantFailure(t, got, err, ReasonRevoked, issued.ID)
	})
	t.Run("CacheReadsOncePerTTL", func(t *testing.T) {
		f := newFixture()
		f.a.CacheTTL = time.Second
		token, _ := f.issue(t, IssueRequest{})
		for range 5 {
			if _, err := f.a.Verify(ctx, token); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}
		if got := f.store.reads(); got != 1 {
			t.Errorf("store reads: got %d, want 1", got)
		}
		f.clock.Advance(f.a.CacheTTL)
		if _, err := f.a.Verify(ctx, token); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if got := f.store.reads(); got != 2 {
			t.Errorf("store reads after CacheTTL: got %d, want 2", got)
		}
	})
	t.Run("CachedTokenIsCopied", func(t *testing.T) {
		f := newFixture()
		token, _ := f.issue(t, IssueRequest{Roles: []string{"reader"}})
		got, err := f.a.Verify(ctx, token)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		got.Roles[0], got.Identity = "admin", "mallory"
		again, err := f.a.Verify(ctx, token)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if again.Roles[0] != "reader" || again.Identity != "alice" {
			t.Errorf("second Verify: got %v of %s, want [reader] of alice", again.Roles, again.Identity)
		}
	})
	t.Run("CachedExpiresByClock", func(t *testing.T) {
		f := newFixture()
		f.a.CacheTTL = time.Second
		token, issued := f.issue(t, IssueRequest{TTL: time.Hour})
		f.clock.Advance(time.Hour - time.Millisecond)
		if _, err := f.a.Verify(ctx, token); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		f.clock.Advance(time.Millisecond)
		got, err := f.a.Verify(ctx, token)
		wantFailure(t, got, err, ReasonExpired, issued.ID)
		if f.store.reads() != 1 {
			t.Errorf("store reads: got %d, want 1 (expiry is checked on the kept copy)", f.store.reads())
		}
	})
	t.Run("RotatedElsewhereNewSecretWorks", func(t *testing.T) {
		// A secret that does not match the kept copy is checked against
		// the store: a token rotated by another process works at once.
		f := newFixture()
		token, issued := f.issue(t, IssueRequest{})
		if _, err := f.a.Verify(ctx, token); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		other := New(f.store, testKey)
		other.Now = f.clock.Now
		rotated, err := other.Rotate(ctx, issued.ID, 0)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if _, err := f.a.Verify(ctx, rotated); err != nil {
			t.Errorf("Verify(new secret): %v", err)
		}
		got, err := f.a.Verify(ctx, token)
		wantFailure(t, got, err, ReasonBadSecret, issued.ID)
	})
	t.Run("RevokeRacingARead", func(t *testing.T) {
		// A token read before a Revoke through the same Authenticator but
		// kept after it must not be kept.
		f := newFixture()
		token, issued := f.issue(t, IssueRequest{})
		f.store.afterRead = func() {
			f.store.afterRead = nil
			if err := f.a.Revoke(ctx, issued.ID); err != nil {
				t.Errorf("Revoke: %v", err)
			}
		}
		if _, err := f.a.Verify(ctx, token); err != nil {
			t.Fatalf("Verify (read before the revocation): %v", err)
		}
		got, err := f.a.Verify(ctx, token)
		wantFailure(t, got, err, ReasonRevoked, issued.ID)
	})
	t.Run("WrongSecret", func(t *testing.T) {
		f := newFixture()
		_, tok := f.issue(t, IssueRequest{})
		got, err := f.a.Verify(ctx, format(tok.ID, newSecret()))
		record("WrongSecret", wantFailure(t, got, err, ReasonBadSecret, tok.ID))
		if f.store.touches != 0 {
			t.Errorf("a failed Verify touched the token")
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		f := newFixture()
		token, tok := f.issue(t, IssueRequest{})
		f.a.Key = bytes.Repeat([]byte("x"), 32)
		got, err := f.a.Verify(ctx, token)
		record("WrongKey", wantFailure(t, got, err, ReasonBadSecret, tok.ID))
	})
	t.Run("Expired", func(t *testing.T) {
		f := newFixture()
		token, tok := f.issue(t, IssueRequest{TTL: time.Hour})
		f.clock.Advance(time.Hour)
		got, err := f.a.Verify(ctx, token)
		record("Expired", wantFailure(t, got, err, ReasonExpired, tok.ID))
		// A wrong secret is reported as such, not as expired.
		got, err = f.a.Verify(ctx, format(tok.ID, newSecret()))
		wantFailure(t, got, err, ReasonBadSecret, tok.ID)
	})
	t.Run("Revoked", func(t *testing.T) {
		f := newFixture()
		token, tok := f.issue(t, IssueRequest{TTL: time.Hour})
		if _, err := f.a.Verify(ctx, token); err != nil {
			t.Fatalf("Verify before Revoke: %v", err)
		}
		if err := f.a.Revoke(ctx, tok.ID); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		got, err := f.a.Verify(ctx, token)
		record("Revoked", wantFailure(t, got, err, ReasonRevoked, tok.ID))
		f.clock.Advance(2 * time.Hour) // revoked and expired: revoked wins
		got, err = f.a.Verify(ctx, token)
		wantFailure(t, got, err, ReasonRevoked, tok.ID)
		got, err = f.a.Verify(ctx, format(tok.ID, newSecret()))
		wantFailure(t, got, err, ReasonBadSecret, tok.ID)
	})
	t.Run("Unknown", func(t *testing.T) {
		f := newFixture()
		f.issue(t, IssueRequest{})
		id := newID()
		got, err := f.a.Verify(ctx, format(id, newSecret()))
		record("Unknown", wantFailure(t, got, err, ReasonUnknown, id))
	})
	t.Run("Malformed", func(t *testing.T) {
		f := newFixture()
		token, _ := f.issue(t, IssueRequest{})
		for i, s := range []string{
			"",
			"invalid",
			"Bearer " + token,
			token + "\n",
			token[:len(token)-1],
			strings.ToUpper(token),
			strings.Replace(token, "qgt_", "qgx_", 1),
		} {
			got, err := f.a.Verify(ctx, s)
			record(fmt.Sprintf("Malformed%d", i), wantFailure(t, got, err, ReasonMalformed, ""))
		}
	})
	t.Run("BadChecksum", func(t *testing.T) {
		f := newFixture()
		token, _ := f.issue(t, IssueRequest{})
		last := token[len(token)-1]
		bad := token[:len(token)-1] + flip(last)
		got, err := f.a.Verify(ctx, bad)
		record("BadChecksum", wantFailure(t, got, err, ReasonMalformed, ""))
	})
	t.Run("StoreDown", func(t *testing.T) {
		f := newFixture()
		token, _ := f.issue(t, IssueRequest{})
		f.store.tokenErr = errors.New("database is locked")
		got, err := f.a.Verify(ctx, token)
		if got != nil || err == nil {
			t.Fatalf("Verify with the store down: got (%v, %v), want an error", got, err)
		}
		var ae *AuthError
		if errors.As(err, &ae) {
			t.Errorf("a store outage is reported as an authentication failure (%q)", ae.Reason)
		}
		if got := qgate.ErrorCode(err); got != qgate.EINTERNAL {
			t.Errorf("ErrorCode: got %q, want %q", got, qgate.EINTERNAL)
		}
		if got := qgate.ErrorMessage(err); strings.Contains(got, "locked") {
			t.Errorf("ErrorMessage leaks the cause: %q", got)
		}
		if !strings.Contains(err.Error(), "database is locked") {
			t.Errorf("Error() %q loses the cause", err)
		}
	})
	t.Run("ShortKey", func(t *testing.T) {
		f := newFixture()
		token, _ := f.issue(t, IssueRequest{})
		f.a.Key = nil
		if _, err := f.a.Verify(ctx, token); qgate.ErrorCode(err) != qgate.EINTERNAL {
			t.Fatalf("Verify without a key: got %v, want EINTERNAL", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		f := newFixture()
		token, _ := f.issue(t, IssueRequest{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 50 {
					if _, err := f.a.Verify(ctx, token); err != nil {
						t.Errorf("Verify: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
	})

	t.Run("SameClientFacingError", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		if len(rendered) < 6 {
			t.Fatalf("only %d failures recorded", len(rendered))
		}
		var first, firstName string
		for name, s := range rendered {
			if first == "" {
				first, firstName = s, name
				continue
			}
			if s != first {
				t.Errorf("client-facing error differs:\n%s: %s\n%s: %s", firstName, first, name, s)
			}
		}
	})
}

func TestAuthenticator_Rotate(t *testing.T) {
	ctx := context.Background()
	t.Run("OldSecretInsideGrace", func(t *testing.T) {
		f := newFixture()
		old, tok := f.issue(t, IssueRequest{Roles: []string{"r"}, TTL: 24 * time.Hour})
		f.clock.Advance(time.Hour)
		fresh, err := f.a.Rotate(ctx, tok.ID, 10*time.Minute)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if fresh == old {
			t.Fatal("Rotate returned the old token")
		}
		id, _, err := Parse(fresh)
		if err != nil || id != tok.ID {
			t.Fatalf("Parse(rotated): id %q, err %v; want id %q", id, err, tok.ID)
		}
		f.clock.Advance(10*time.Minute - time.Nanosecond)
		for name, tk := range map[string]string{"old": old, "new": fresh} {
			got, err := f.a.Verify(ctx, tk)
			if err != nil {
				t.Errorf("Verify(%s token) inside the grace period: %v", name, err)
				continue
			}
			if got.ID != tok.ID || !reflect.DeepEqual(got.Roles, []string{"r"}) || !got.ExpiresAt.Equal(tok.ExpiresAt) {
				t.Errorf("Verify(%s token): got %+v, want the same token, roles and expiry", name, got)
			}
		}
		// The two verifiers share salt and iterations so that a SCRAM
		// server can accept either token.
		st := f.store.stored(tok.ID)
		cur, err1 := ParseSCRAMVerifier(st.SCRAM)
		prev, err2 := ParseSCRAMVerifier(st.PrevSCRAM)
		if err1 != nil || err2 != nil {
			t.Fatalf("ParseSCRAMVerifier: %v, %v", err1, err2)
		}
		if !bytes.Equal(cur.Salt, prev.Salt) || cur.Iterations != prev.Iterations {
			t.Errorf("verifiers during grace: salts %x / %x, iterations %d / %d; want equal", cur.Salt, prev.Salt, cur.Iterations, prev.Iterations)
		}
		if bytes.Equal(cur.StoredKey, prev.StoredKey) {
			t.Errorf("current and previous StoredKey are equal")
		}
		if err := scramLogin(t, prev, tok.ID, old); err != nil {
			t.Errorf("SCRAM login with the old token against the previous verifier: %v", err)
		}
		if err := scramLogin(t, cur, tok.ID, fresh); err != nil {
			t.Errorf("SCRAM login with the new token: %v", err)
		}
	})
	t.Run("OldSecretAfterGrace", func(t *testing.T) {
		f := newFixture()
		old, tok := f.issue(t, IssueRequest{})
		fresh, err := f.a.Rotate(ctx, tok.ID, 10*time.Minute)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		f.clock.Advance(10 * time.Minute)
		got, err := f.a.Verify(ctx, old)
		wantFailure(t, got, err, ReasonBadSecret, tok.ID)
		if _, err := f.a.Verify(ctx, fresh); err != nil {
			t.Errorf("Verify(new token) after the grace period: %v", err)
		}
	})
	t.Run("NoGrace", func(t *testing.T) {
		f := newFixture()
		old, tok := f.issue(t, IssueRequest{})
		fresh, err := f.a.Rotate(ctx, tok.ID, 0)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		got, err := f.a.Verify(ctx, old)
		wantFailure(t, got, err, ReasonBadSecret, tok.ID)
		if _, err := f.a.Verify(ctx, fresh); err != nil {
			t.Errorf("Verify(new token): %v", err)
		}
		st := f.store.stored(tok.ID)
		if st.PrevSecretHash != nil || st.PrevSCRAM != "" || !st.PrevValidUntil.IsZero() {
			t.Errorf("previous secret kept after a rotation without grace: %#v", st)
		}
		cur, _ := ParseSCRAMVerifier(st.SCRAM)
		orig, _ := ParseSCRAMVerifier(tok.SCRAM)
		if bytes.Equal(cur.Salt, orig.Salt) {
			t.Errorf("rotation without grace reused the salt")
		}
	})
	t.Run("TwiceEndsFirstGrace", func(t *testing.T) {
		f := newFixture()
		first, tok := f.issue(t, IssueRequest{})
		second, err := f.a.Rotate(ctx, tok.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		third, err := f.a.Rotate(ctx, tok.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.a.Verify(ctx, first)
		wantFailure(t, got, err, ReasonBadSecret, tok.ID)
		for _, tk := range []string{second, third} {
			if _, err := f.a.Verify(ctx, tk); err != nil {
				t.Errorf("Verify: %v", err)
			}
		}
	})
	t.Run("Revoked", func(t *testing.T) {
		f := newFixture()
		_, tok := f.issue(t, IssueRequest{})
		if err := f.a.Revoke(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		before := f.store.stored(tok.ID)
		token, err := f.a.Rotate(ctx, tok.ID, time.Hour)
		if got := qgate.ErrorCode(err); got != qgate.EINVALID || token != "" {
			t.Fatalf("Rotate(revoked): got (%q, %v), want EINVALID", token, err)
		}
		if after := f.store.stored(tok.ID); !reflect.DeepEqual(after, before) {
			t.Errorf("Rotate(revoked) changed the stored token")
		}
	})
	t.Run("Expired", func(t *testing.T) {
		f := newFixture()
		_, tok := f.issue(t, IssueRequest{TTL: time.Minute})
		f.clock.Advance(time.Minute)
		if _, err := f.a.Rotate(ctx, tok.ID, 0); qgate.ErrorCode(err) != qgate.EEXPIRED {
			t.Fatalf("Rotate(expired): got %v, want EEXPIRED", err)
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		f := newFixture()
		if _, err := f.a.Rotate(ctx, newID(), 0); qgate.ErrorCode(err) != qgate.ENOTFOUND {
			t.Fatalf("Rotate(unknown): got %v, want ENOTFOUND", err)
		}
	})
	t.Run("NegativeGrace", func(t *testing.T) {
		f := newFixture()
		_, tok := f.issue(t, IssueRequest{})
		if _, err := f.a.Rotate(ctx, tok.ID, -time.Second); qgate.ErrorCode(err) != qgate.EINVALID {
			t.Fatalf("Rotate(negative grace): got %v, want EINVALID", err)
		}
	})
}

func TestAuthenticator_Revoke(t *testing.T) {
	ctx := context.Background()
	t.Run("KeepsFirstTime", func(t *testing.T) {
		f := newFixture()
		old, tok := f.issue(t, IssueRequest{})
		fresh, err := f.a.Rotate(ctx, tok.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.a.Revoke(ctx, tok.ID); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		at := f.clock.Now()
		f.clock.Advance(time.Minute)
		if err := f.a.Revoke(ctx, tok.ID); err != nil {
			t.Fatalf("second Revoke: %v", err)
		}
		if got := f.store.stored(tok.ID).RevokedAt; !got.Equal(at) {
			t.Errorf("RevokedAt: got %v, want %v", got, at)
		}
		// Revocation also ends a rotation's grace period.
		for _, tk := range []string{old, fresh} {
			got, err := f.a.Verify(ctx, tk)
			wantFailure(t, got, err, ReasonRevoked, tok.ID)
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		f := newFixture()
		if err := f.a.Revoke(ctx, newID()); qgate.ErrorCode(err) != qgate.ENOTFOUND {
			t.Fatalf("Revoke(unknown): got %v, want ENOTFOUND", err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture()
	token, _, err := f.a.Issue(context.Background(), IssueRequest{Identity: "alice"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.a.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyUnknown(b *testing.B) {
	f := newFixture()
	token := format(newID(), newSecret())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.a.Verify(ctx, token); err == nil {
			b.Fatal("unknown token accepted")
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse(exampleToken); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	f := newFixture()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.a.Issue(ctx, IssueRequest{Identity: "alice"}); err != nil {
			b.Fatal(err)
		}
	}
}
