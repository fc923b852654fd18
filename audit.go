package qgate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/blake2b"
)

// Audit event types.
const (
	AuditRequest   = "request"   // a request and its decision
	AuditExecution = "execution" // what happened upstream
	AuditReview    = "review"    // a review was created or changed state
	AuditVote      = "vote"      // an approver voted
	AuditGrant     = "grant"     // a grant was created, used or revoked
	AuditToken     = "token"     // a token was created, rotated or revoked
	AuditAuth      = "auth"      // an authentication failed
	AuditSession   = "session"   // a web UI session was opened, closed or revoked
	AuditUser      = "user"      // a local user was created, disabled or given a new password
	AuditAdmin     = "admin"     // any other administrative action
)

// AuditEvent is one append-only, hash-chained audit record. Seq, PrevHash
// and Hash are set by the store when the event is appended.
type AuditEvent struct {
	Seq         int64           `json:"seq"`
	Time        time.Time       `json:"time"`
	Type        string          `json:"type"`
	Action      string          `json:"action"` // e.g. "allow", "created", "approved"
	RequestID   string          `json:"request_id,omitempty"`
	TokenID     string          `json:"token_id,omitempty"`
	Identity    string          `json:"identity,omitempty"`
	Target      string          `json:"target,omitempty"`
	Environment string          `json:"environment,omitempty"`
	ReviewID    int64           `json:"review_id,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	PrevHash    string          `json:"prev_hash"`
	Hash        string          `json:"hash"`
}

// Chain hash versions. Every event appended now gets a v2 hash; a chain
// may begin with v1 events, appended by qgate before v2 existed, and
// verifies across the change because each hash names its version.
//
//   - v1: SHA-256, written as 64 hex digits.
//   - v2: BLAKE2b-256, written as "blake2b:" and 64 hex digits. It hashes
//     the same fields as v1, under the tag "qgate-audit-v2", at well
//     under half of SHA-256's cost on CPUs without SHA instructions
//     (BenchmarkChainHash): the store hashes every event it appends, on
//     the gateway's hot path.
const ChainHashV2Prefix = "blake2b:"

// ChainHash computes the hash that chains e to the previous event (v2).
// It covers every field except Hash itself, including Seq and PrevHash,
// so edits, deletions and reordering all break the chain. Time is hashed
// at nanosecond precision in UTC; Data as the exact bytes stored.
func (e *AuditEvent) ChainHash() string {
	var buf [512]byte // enough for most events: no allocation
	sum := blake2b.Sum256(e.chainInput("qgate-audit-v2", buf[:0]))
	var out [len(ChainHashV2Prefix) + 2*blake2b.Size256]byte
	n := copy(out[:], ChainHashV2Prefix)
	hex.Encode(out[n:], sum[:])
	return string(out[:])
}

// HashValid reports whether e.Hash is e's chain hash under the version
// e.Hash names: v2 when it starts with ChainHashV2Prefix, otherwise v1.
func (e *AuditEvent) HashValid() bool {
	if strings.HasPrefix(e.Hash, ChainHashV2Prefix) {
		return e.Hash == e.ChainHash()
	}
	return e.Hash == e.ChainHashV1()
}

// ChainHashV1 is e's v1 hash: SHA-256 of the v1 encoding, in hex. qgate
// no longer writes it; it verifies chains begun before v2, and tests
// build such chains with it.
func (e *AuditEvent) ChainHashV1() string {
	var buf [512]byte
	sum := sha256.Sum256(e.chainInput("qgate-audit-v1", buf[:0]))
	return hex.EncodeToString(sum[:])
}

// chainInput appends what a chain hash covers to b: the version tag and
// the fields in a fixed order, each written as its decimal length, ':' and
// its bytes (numbers in decimal).
func (e *AuditEvent) chainInput(tag string, b []byte) []byte {
	str := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	num := func(n int64) {
		var d [20]byte
		digits := strconv.AppendInt(d[:0], n, 10)
		b = strconv.AppendInt(b, int64(len(digits)), 10)
		b = append(b, ':')
		b = append(b, digits...)
	}
	str(tag)
	num(e.Seq)
	num(e.Time.UnixNano())
	str(e.Type)
	str(e.Action)
	str(e.RequestID)
	str(e.TokenID)
	str(e.Identity)
	str(e.Target)
	str(e.Environment)
	num(e.ReviewID)
	b = strconv.AppendInt(b, int64(len(e.Data)), 10)
	b = append(b, ':')
	b = append(b, e.Data...)
	str(e.PrevHash)
	return b
}

// AuditFilter selects audit events. Zero fields match everything.
type AuditFilter struct {
	TokenID  string
	Identity string
	Target   string
	// Environment selects events of targets in this environment.
	Environment string
	Type        string
	Action      string // e.g. a decision: "allow", "deny", "review"
	RequestID   string
	ReviewID    int64
	Since       time.Time
	Until       time.Time
	AfterSeq    int64
	// BeforeSeq, when positive, selects events with Seq < BeforeSeq: with
	// Desc, a reader pages back from the newest event.
	BeforeSeq int64
	Limit     int
	Desc      bool // newest first
}

// AuditStore keeps the audit chain.
type AuditStore interface {
	// AppendAudit appends events in order, atomically: it sets Seq,
	// PrevHash and Hash on each, chaining from the last stored event, and
	// returns only once they are durable. Either all are stored or none.
	AppendAudit(ctx context.Context, events []*AuditEvent) error
	// ListAudit returns events matching f, oldest first unless f.Desc.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
	// ScanAudit calls fn for every stored event in Seq order, as stored,
	// starting after afterSeq. It stops at fn's first error and returns it.
	ScanAudit(ctx context.Context, afterSeq int64, fn func(*AuditEvent) error) error
}

// Store is everything qgate persists.
type Store interface {
	TokenStore
	IdentityStore
	ReviewStore
	GrantStore
	AuditStore
	UserStore
	SessionStore
	Close() error
}
