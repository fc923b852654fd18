package webhook

import (
	"encoding/json"
	"time"

	"github.com/qgate/qgate"
)

// Event is the JSON body of every delivery. Receivers written in Go may
// decode into it; Notifier encodes exactly this shape.
type Event struct {
	// ID is the delivery id, also sent as Qgate-Delivery: the same on every
	// attempt of one delivery, different for each endpoint.
	ID string `json:"id"`
	// Type is one of the qgate.Review* event types, also sent as Qgate-Event.
	Type string `json:"type"`
	// Time is when qgate saw the change (RFC 3339 with nanoseconds, UTC).
	Time   time.Time `json:"time"`
	Review Review    `json:"review"`
	// URL is the review's page in the web UI.
	URL string `json:"url"`
}

// Review is the review as a webhook receiver sees it, right after the change.
type Review struct {
	ID          int64              `json:"id"`
	Status      qgate.ReviewStatus `json:"status"`
	Protocol    qgate.Protocol     `json:"protocol"`
	Target      string             `json:"target"`
	Environment string             `json:"environment"`
	Requester   string             `json:"requester"`
	TokenID     string             `json:"token_id"`
	SourceIP    string             `json:"source_ip"`
	// Payload is the exact SQL text or HTTP request under review.
	Payload     string       `json:"payload"`
	PayloadHash string       `json:"payload_hash"`
	Decision    Decision     `json:"decision"`
	Votes       []qgate.Vote `json:"votes"`
	// Reason explains a rejection, expiry or cancellation.
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// DecidedAt is absent while the review is pending.
	DecidedAt time.Time `json:"decided_at,omitzero"`
	// ExecutedAt is present once an approved review ran.
	ExecutedAt time.Time `json:"executed_at,omitzero"`
}

// Decision is the policy decision that held the request.
type Decision struct {
	Action       qgate.Action              `json:"decision"`
	Matched      []qgate.MatchedPolicy     `json:"matched"`
	Requirements []qgate.ReviewRequirement `json:"requirements"`
	Risk         qgate.Risk                `json:"risk"`
}

// newReview copies the fields a receiver sees; lists are never null.
func newReview(r *qgate.Review) Review {
	return Review{
		ID: r.ID, Status: r.Status, Protocol: r.Protocol, Target: r.Target, Environment: r.Environment,
		Requester: r.Requester, TokenID: r.TokenID, SourceIP: r.SourceIP,
		Payload: r.Payload, PayloadHash: r.PayloadHash,
		Decision: Decision{
			Action:       r.Decision.Action,
			Matched:      orEmpty(r.Decision.Matched),
			Requirements: orEmpty(r.Decision.Requirements),
			Risk:         qgate.Risk{Level: r.Decision.Risk.Level, Findings: orEmpty(r.Decision.Risk.Findings)},
		},
		Votes:  orEmpty(r.Votes),
		Reason: r.Reason, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		DecidedAt: r.DecidedAt, ExecutedAt: r.ExecutedAt,
	}
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// envelope is Event with the review already encoded, so that the snapshot
// is taken once, when Notify is called, whatever the number of endpoints.
type envelope struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Time   time.Time       `json:"time"`
	Review json.RawMessage `json:"review"`
	URL    string          `json:"url"`
}
