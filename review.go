package qgate

import (
	"context"
	"time"
)

// ReviewStatus is a review's state: pending, then exactly one of the others.
type ReviewStatus string

const (
	ReviewPending   ReviewStatus = "pending"
	ReviewApproved  ReviewStatus = "approved"
	ReviewRejected  ReviewStatus = "rejected"
	ReviewExpired   ReviewStatus = "expired"
	ReviewCancelled ReviewStatus = "cancelled"
)

// Vote is one approver's decision on a review.
type Vote struct {
	Identity string    `json:"identity"`
	Groups   []string  `json:"groups"`
	Approve  bool      `json:"approve"`
	Comment  string    `json:"comment,omitempty"`
	Grant    string    `json:"grant,omitempty"` // requested grant window, e.g. "30m"
	At       time.Time `json:"at"`
}

// Review is a held request waiting for approval.
type Review struct {
	ID          int64        `json:"id"`
	Status      ReviewStatus `json:"status"`
	Protocol    Protocol     `json:"protocol"`
	Target      string       `json:"target"`
	Environment string       `json:"environment"`
	RequestID   string       `json:"request_id"`
	Requester   string       `json:"requester"` // identity name
	TokenID     string       `json:"token_id"`
	SourceIP    string       `json:"source_ip"`
	// Payload is the exact request as the approver sees it and as it will
	// be executed; PayloadHash binds the approval to it.
	Payload     string    `json:"payload"`
	PayloadHash string    `json:"payload_hash"`
	Shape       string    `json:"shape"` // grant key: SQL fingerprint or HTTP shape
	Decision    Decision  `json:"decision"`
	Votes       []Vote    `json:"votes"`
	Reason      string    `json:"reason,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	ExecutedAt  time.Time `json:"executed_at,omitzero"`
	// Version increases on every update; UpdateReview compares it.
	Version int `json:"version"`
}

// ReviewFilter selects reviews.
type ReviewFilter struct {
	Status    ReviewStatus
	Target    string
	Requester string
	Limit     int
}

// ReviewStore keeps reviews.
type ReviewStore interface {
	// CreateReview inserts r and sets its ID and Version.
	CreateReview(ctx context.Context, r *Review) error
	// Review returns the review with id. ENOTFOUND if none.
	Review(ctx context.Context, id int64) (*Review, error)
	// ListReviews returns reviews newest first.
	ListReviews(ctx context.Context, f ReviewFilter) ([]*Review, error)
	// UpdateReview stores r if the stored version still equals r.Version,
	// then increments r.Version. ECONFLICT if another update won.
	UpdateReview(ctx context.Context, r *Review) error
}

// Grant allows the same request shape from the same token for a bounded
// time, as the result of an approval.
type Grant struct {
	ID        int64     `json:"id"`
	TokenID   string    `json:"token_id"`
	Target    string    `json:"target"`
	Shape     string    `json:"shape"`
	ReviewID  int64     `json:"review_id"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// GrantStore keeps grants.
type GrantStore interface {
	CreateGrant(ctx context.Context, g *Grant) error
	// ActiveGrant returns an unrevoked grant for token, target and shape
	// that has not expired at now. ENOTFOUND if none.
	ActiveGrant(ctx context.Context, tokenID, target, shape string, now time.Time) (*Grant, error)
	ListGrants(ctx context.Context, activeAt time.Time) ([]*Grant, error)
	// RevokeGrant ends a grant. ENOTFOUND if none.
	RevokeGrant(ctx context.Context, id int64, at time.Time) error
}
