package qgate

import "context"

// Review event types.
const (
	ReviewCreated  = "review.created"
	ReviewVoted    = "review.voted"
	ReviewDecided  = "review.decided" // approved or rejected
	ReviewEnded    = "review.ended"   // expired or cancelled
	ReviewExecuted = "review.executed"
)

// ReviewEvent tells that a review changed. Review is a snapshot taken right
// after the change; receivers must not modify it.
type ReviewEvent struct {
	Type   string  `json:"type"`
	Review *Review `json:"review"`
	// URL is the review's page in the web UI.
	URL string `json:"url"`
}

// Notifier is told about review changes (webhooks, Slack). Notify must not
// block the caller for long: implementations queue and deliver on their
// own time, and report failures in their own logs.
type Notifier interface {
	Notify(ctx context.Context, ev ReviewEvent)
}
