// Package webhook delivers review events (qgate.ReviewEvent) to HTTP
// endpoints, signed so that receivers can check they come from qgate.
//
// Notifier implements qgate.Notifier. Notify never blocks: it encodes the
// review once and queues a delivery for each endpoint subscribed to the
// event's type (by default review.created, review.decided and
// review.ended). Each endpoint has a bounded queue and one worker that
// delivers in order; an event that finds the queue full is dropped, logged
// and counted (Stats). Shutdown drains the queues, Close abandons them.
//
// Each delivery is a POST of an Event as JSON with these headers:
//
//	Content-Type:    application/json
//	User-Agent:      qgate-webhook/1
//	Qgate-Event:     review.created
//	Qgate-Delivery:  <uuid, the same on every attempt>
//	Qgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// The signature is computed afresh on every attempt. Receivers check it
// with Verify, or with any HMAC-SHA256 implementation (docs/webhooks.md).
//
// A delivery is retried on network errors and timeouts, 5xx and 429,
// after Options.Backoff (1s, 2s, 4s, … up to 5m, with jitter) or the
// receiver's Retry-After (capped), up to the endpoint's MaxAttempts. Any
// other status is final, including 3xx: redirects are not followed.
// Every attempt is logged with slog (never the secret, URL or payload) and
// recorded in Options.Log, for which MemoryLog keeps the latest in memory.
//
// The package does not import config; the wiring in cmd converts each
// config.Webhook into an Endpoint.
package webhook
