package qgate

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/blake2b"
)

// chainHashReference is the chain hash as first written, field by field
// into the hash: stored chains were built with it, so the hash functions
// must never differ from it. v1 is SHA-256 of the fields tagged
// qgate-audit-v1, in hex; v2 is BLAKE2b-256 of them tagged qgate-audit-v2,
// in hex after "blake2b:".
func chainHashReference(e *AuditEvent, version int) string {
	var h hash.Hash
	tag, prefix := "qgate-audit-v1", ""
	if version == 2 {
		h, _ = blake2b.New256(nil)
		tag, prefix = "qgate-audit-v2", "blake2b:"
	} else {
		h = sha256.New()
	}
	w := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	w(tag)
	w(strconv.FormatInt(e.Seq, 10))
	w(strconv.FormatInt(e.Time.UnixNano(), 10))
	w(e.Type)
	w(e.Action)
	w(e.RequestID)
	w(e.TokenID)
	w(e.Identity)
	w(e.Target)
	w(e.Environment)
	w(strconv.FormatInt(e.ReviewID, 10))
	w(string(e.Data))
	w(e.PrevHash)
	return prefix + hex.EncodeToString(h.Sum(nil))
}

func TestAuditEvent_ChainHash(t *testing.T) {
	base := AuditEvent{Seq: 7, Time: time.Unix(1700000000, 123456789).UTC(), Type: AuditRequest, Action: "allow",
		RequestID: "019a0000-0000-7000-8000-000000000001", TokenID: "qgt1abc", Identity: "alice", Target: "api",
		Environment: "prod", ReviewID: 3, Data: []byte(`{"method":"GET","path":"/v1/users/42"}`),
		PrevHash: strings.Repeat("ab", 32)}
	t.Run("Golden", func(t *testing.T) {
		e := base
		if got, want := e.ChainHashV1(), "aefa52806f569f6dd38391d7240d82a6fc31825cc2d8603737065f089a39bb6a"; got != want {
			t.Errorf("v1: got %s, want %s", got, want)
		}
		// Also what Python computes: hashlib.blake2b(input, digest_size=32).
		if got, want := e.ChainHash(), "blake2b:d6494f4a6cf8d07a4535e1d25920df1be8a20cb3233d211b26383c07779d7a1a"; got != want {
			t.Errorf("v2: got %s, want %s", got, want)
		}
	})
	for name, mod := range map[string]func(*AuditEvent){
		"AsIs":        func(*AuditEvent) {},
		"Zero":        func(e *AuditEvent) { *e = AuditEvent{} },
		"NegativeSeq": func(e *AuditEvent) { e.Seq, e.ReviewID = -1, -9223372036854775808 },
		"PreEpoch":    func(e *AuditEvent) { e.Time = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC) },
		"LargeData":   func(e *AuditEvent) { e.Data = []byte(`"` + strings.Repeat("x", 5000) + `"`) },
		"NoData":      func(e *AuditEvent) { e.Data = nil },
	} {
		t.Run(name, func(t *testing.T) {
			e := base
			mod(&e)
			if got, want := e.ChainHashV1(), chainHashReference(&e, 1); got != want {
				t.Errorf("v1: got %s, want %s (the reference)", got, want)
			}
			if got, want := e.ChainHash(), chainHashReference(&e, 2); got != want {
				t.Errorf("v2: got %s, want %s (the reference)", got, want)
			}
		})
	}
}

func TestAuditEvent_HashValid(t *testing.T) {
	e := AuditEvent{Seq: 2, Time: time.Unix(1700000000, 0).UTC(), Type: AuditRequest, Action: "allow",
		Data: []byte(`{"k":1}`), PrevHash: strings.Repeat("cd", 32)}
	v1, v2 := e.ChainHashV1(), e.ChainHash()
	edited := e
	edited.Action = "deny"
	for _, c := range []struct {
		name string
		e    AuditEvent
		hash string
		want bool
	}{
		{"V1", e, v1, true},
		{"V2", e, v2, true},
		{"V1Edited", edited, v1, false},
		{"V2Edited", edited, v2, false},
		// A v1 digest under the v2 prefix, or the reverse, is neither.
		{"V1DigestAsV2", e, ChainHashV2Prefix + v1, false},
		{"V2DigestAsV1", e, strings.TrimPrefix(v2, ChainHashV2Prefix), false},
		{"UpperCase", e, strings.ToUpper(v1), false},
		{"Empty", e, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.e.Hash = c.hash
			if got := c.e.HashValid(); got != c.want {
				t.Errorf("HashValid with %q: got %v, want %v", c.hash, got, c.want)
			}
		})
	}
}

// BenchmarkChainHash compares the two hash versions on a typical request
// event (about 400 bytes hashed):
//
//	go test -run '^$' -bench ChainHash .
func BenchmarkChainHash(b *testing.B) {
	e := AuditEvent{Seq: 123456, Time: time.Now(), Type: AuditRequest, Action: "allow",
		RequestID: "019a0000-0000-7000-8000-000000000001", TokenID: "qgt1abcdefghij", Identity: "bench",
		Target: "bench-api", Environment: "staging",
		Data:     []byte(`{"method":"GET","path":"/v1/users/42","query":"expand=orders","source_ip":"127.0.0.1","matched":[{"name":"reads","action":"allow"}],"risk":"none","findings":[]}`),
		PrevHash: "blake2b:" + strings.Repeat("ab", 32)}
	b.Run("v1-sha256", func(b *testing.B) {
		for b.Loop() {
			e.ChainHashV1()
		}
	})
	b.Run("v2-blake2b", func(b *testing.B) {
		for b.Loop() {
			e.ChainHash()
		}
	})
}
