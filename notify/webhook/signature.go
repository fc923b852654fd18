package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of every delivery.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256>".
	HeaderSignature = "Qgate-Signature"
	// HeaderEvent is the event type, e.g. review.created.
	HeaderEvent = "Qgate-Event"
	// HeaderDelivery is the delivery id; it is the same on every attempt,
	// so receivers can drop duplicates.
	HeaderDelivery = "Qgate-Delivery"
	// UserAgent is the User-Agent of every delivery.
	UserAgent = "qgate-webhook/1"
)

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verify. Callers test them with errors.Is.
var (
	ErrNoSecret           = errors.New("webhook: no secret to verify with")
	ErrNoSignature        = errors.New("webhook: no " + HeaderSignature + " header")
	ErrMalformedSignature = errors.New("webhook: malformed " + HeaderSignature + " header")
	ErrSignatureMismatch  = errors.New("webhook: signature does not match")
	ErrTimestamp          = errors.New("webhook: signature timestamp outside tolerance")
)

// Sign returns the Qgate-Signature header value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify is the receiver's check of a delivery: header is the
// Qgate-Signature header's value, body the raw request body exactly as
// received (before any JSON decoding), now the receiver's clock.
//
// It returns nil only if one of the header's v1 signatures is the
// HMAC-SHA256 of "<t>.<body>" under secret (compared in constant time) and
// t is within tolerance of now, in either direction; tolerance <= 0 means
// DefaultTolerance. Several v1 entries are accepted so that a secret can be
// rotated; entries of other schemes are ignored.
//
// Errors: ErrNoSecret, ErrNoSignature (empty header), ErrMalformedSignature
// (no t, no v1, or a value that does not parse), ErrSignatureMismatch,
// ErrTimestamp (signature valid but too old or too far in the future:
// possibly a replay).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return ErrNoSecret
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrNoSignature
	}
	var (
		ts   string
		sigs [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: %q is not key=value", ErrMalformedSignature, part)
		}
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: t appears twice", ErrMalformedSignature)
			}
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 || strconv.FormatInt(n, 10) != v {
				return fmt.Errorf("%w: t is not unix seconds", ErrMalformedSignature)
			}
			ts = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return fmt.Errorf("%w: v1 is not a hex HMAC-SHA256", ErrMalformedSignature)
			}
			sigs = append(sigs, b)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrMalformedSignature)
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	n, _ := strconv.ParseInt(ts, 10, 64)
	if d := now.Sub(time.Unix(n, 0)).Abs(); d > tolerance {
		return fmt.Errorf("%w: signed at %s, %s away from now", ErrTimestamp, time.Unix(n, 0).UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	return nil
}
