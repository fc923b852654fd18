package qgate

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chainHashReference is ChainHash as first written, field by field into
// the hash: stored chains were built with it, so ChainHash must never
// differ from it.
func chainHashReference(e *AuditEvent) string {
	h := sha256.New()
	w := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	w("qgate-audit-v1")
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
	return hex.EncodeToString(h.Sum(nil))
}

func TestAuditEvent_ChainHash(t *testing.T) {
	base := AuditEvent{Seq: 7, Time: time.Unix(1700000000, 123456789).UTC(), Type: AuditRequest, Action: "allow",
		RequestID: "019a0000-0000-7000-8000-000000000001", TokenID: "qgt1abc", Identity: "alice", Target: "api",
		Environment: "prod", ReviewID: 3, Data: []byte(`{"method":"GET","path":"/v1/users/42"}`),
		PrevHash: strings.Repeat("ab", 32)}
	t.Run("Golden", func(t *testing.T) {
		e := base
		if got, want := e.ChainHash(), "aefa52806f569f6dd38391d7240d82a6fc31825cc2d8603737065f089a39bb6a"; got != want {
			t.Errorf("ChainHash: got %s, want %s", got, want)
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
			if got, want := e.ChainHash(), chainHashReference(&e); got != want {
				t.Errorf("ChainHash: got %s, want %s (the reference)", got, want)
			}
		})
	}
}
