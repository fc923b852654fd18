package httpproxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/gate"
	"github.com/qgate/qgate/review"
)

// reviewHeader parses Qgate-Review: 0 when absent. A malformed header is
// refused with 400 (ok false).
func (c *call) reviewHeader() (id int64, ok bool) {
	vv := c.r.Header[HeaderReview]
	if len(vv) == 0 {
		return 0, true
	}
	if len(vv) == 1 {
		id, err := strconv.ParseInt(strings.TrimSpace(vv[0]), 10, 64)
		if err == nil && id > 0 {
			return id, true
		}
	}
	c.refuseEarly(nil, "bad "+HeaderReview+" header", problem{Status: http.StatusBadRequest, slug: "bad-review-header", Title: "Bad request",
		Detail: HeaderReview + " must be one review id, as given in the 202 response that held the request"})
	return 0, false
}

// hold creates a review for the call and waits for its outcome, up to the
// target's hold time.
func (c *call) hold() {
	p := c.p
	ctx := c.ctx
	rv, err := p.Reviews.Create(ctx, review.Request{Request: c.req, Decision: c.dec,
		Payload: c.payload(), PayloadHash: c.payloadHash(), Shape: gate.Shape(c.req)})
	if err != nil {
		c.internal(err, "the request could not be held for review")
		return
	}
	c.reviewID = rv.ID
	if !c.auditRequest(qgate.ActionReview, "", true) {
		p.Reviews.Cancel(ctx, rv.ID, "the request could not be audited")
		return
	}
	final, err := c.await(rv)
	switch {
	case err != nil:
		c.internal(err, "the review could not be read")
	case final != nil:
		p.Metrics.ReviewWait(p.Target.Name, string(final.Status), final.DecidedAt.Sub(final.CreatedAt))
		c.settle(final)
	case c.left:
		// The client went away: withdraw the review, unless it was decided
		// meanwhile (Cancel leaves decided reviews alone).
		c.abandon()
		got, err := p.Reviews.Cancel(ctx, rv.ID, "client disconnected")
		if err != nil {
			p.Logger.LogAttrs(ctx, slog.LevelError, "cancel review", slog.String("target", p.Target.Name),
				slog.Int64("review_id", rv.ID), slog.Any("err", err))
		} else if got.Status == qgate.ReviewCancelled {
			p.Metrics.ReviewWait(p.Target.Name, string(got.Status), got.DecidedAt.Sub(got.CreatedAt))
		}
	default:
		c.pending(rv.ID, rv.ExpiresAt)
	}
}

// retry handles a call repeated with Qgate-Review after a 202, whose
// decision is review: the approved review must cover exactly this call.
func (c *call) retry(id int64) {
	p := c.p
	c.reviewID = id
	rv, err := p.Reviews.Get(c.ctx, id)
	switch {
	case qgate.ErrorCode(err) == qgate.ENOTFOUND:
		c.mismatch(id)
		return
	case err != nil:
		c.internal(err, "the review could not be read")
		return
	case rv.TokenID != c.token.ID || rv.PayloadHash != c.payloadHash():
		c.mismatch(id)
		return
	}
	if rv.Status == qgate.ReviewPending {
		final, err := c.await(rv)
		switch {
		case err != nil:
			c.internal(err, "the review could not be read")
			return
		case final == nil && c.left:
			// After a 202 the review no longer belongs to a connection:
			// a retry that gives up leaves it pending.
			c.auditRequest(qgate.ActionReview, "client disconnected", false)
			c.abandon()
			return
		case final == nil:
			c.auditRequest(qgate.ActionReview, "", false)
			c.pending(id, rv.ExpiresAt)
			return
		}
		rv = final
	}
	c.settle(rv)
}

// abandon ends a held call whose client left: nothing is written (a
// client that only half-closed must not read a success), and the
// connection is closed.
func (c *call) abandon() {
	c.status, c.outcome = 499, "held"
	c.fc.HijackSetNoResponse(true)
	c.fc.Hijack(func(net.Conn) {})
}

// await waits for rv to leave pending, up to the hold time or until the
// client disconnects (c.left). It returns the final review, or nil if it
// is still pending.
func (c *call) await(rv *qgate.Review) (*qgate.Review, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.p.hold())
	defer cancel()
	var left atomic.Bool
	stop := watchClient(c.fc.Conn(), func() { left.Store(true); cancel() })
	got, err := c.p.Reviews.Wait(ctx, rv.ID)
	stop()
	if left.Load() {
		c.left = true
	}
	switch {
	case err == nil:
		return got, nil
	case ctx.Err() != nil:
		return nil, nil
	}
	return nil, err
}

// settle acts on a final review: an approved one is executed once and the
// call forwarded; any other answers 403 with the reason.
func (c *call) settle(rv *qgate.Review) {
	p := c.p
	if rv.Status != qgate.ReviewApproved {
		if c.isRetry() {
			c.auditRequest(qgate.ActionDeny, "review "+string(rv.Status), false)
		}
		c.reviewProblem(http.StatusForbidden, "review-"+string(rv.Status), "Review "+string(rv.Status), rv.Reason)
		return
	}
	_, err := p.Reviews.Execute(c.ctx, rv.ID, c.token.ID, c.payloadHash())
	switch qgate.ErrorCode(err) {
	case "":
	case qgate.ECONFLICT:
		if c.isRetry() {
			c.auditRequest(qgate.ActionDeny, "review already executed", false)
		}
		c.reviewProblem(http.StatusConflict, "review-executed", "Review already executed",
			fmt.Sprintf("review %d was already executed: an approval runs its request once", rv.ID))
		return
	case qgate.EFORBIDDEN:
		if c.isRetry() {
			c.auditRequest(qgate.ActionDeny, "review does not cover the request", false)
		}
		c.reviewProblem(http.StatusForbidden, "review-mismatch", "Review does not cover this request", qgate.ErrorMessage(err))
		return
	default:
		c.internal(err, "the approved review could not be executed")
		return
	}
	if c.isRetry() {
		// The retry's own request event: allowed by the approval.
		if !c.auditRequest(qgate.ActionAllow, "", true) {
			return
		}
	}
	c.approved = true
	c.forward()
}

// markExecuted marks review id executed when an allowed call (a grant, a
// policy change) carries its Qgate-Review header and matches it, so that
// the review shows that its request ran. Failure changes nothing.
func (c *call) markExecuted(id int64) {
	if _, err := c.p.Reviews.Execute(c.ctx, id, c.token.ID, c.payloadHash()); err == nil {
		c.reviewID = id
	}
}

// mismatch refuses a retry whose review is unknown, another token's, or
// for another request; the three read the same.
func (c *call) mismatch(id int64) {
	c.auditRequest(qgate.ActionDeny, "review does not cover the request", false)
	c.reviewProblem(http.StatusForbidden, "review-mismatch", "Review does not cover this request",
		fmt.Sprintf("review %d does not cover this request: an approval runs only the identical request (method, path, query, body) from the token that made it", id))
}

func (c *call) reviewProblem(status int, slug, title, detail string) {
	c.problem(problem{Status: status, slug: slug, Title: title, Detail: detail,
		ReviewID: c.reviewID, ReviewURL: c.p.Reviews.URL(c.reviewID)}, "refused")
}

// isRetry reports whether the call carries Qgate-Review.
func (c *call) isRetry() bool { return len(c.r.Header[HeaderReview]) > 0 }

func (p *Proxy) hold() time.Duration {
	if p.Target.Hold > 0 {
		return p.Target.Hold
	}
	return DefaultHold
}

// payloadHash binds an approval to the exact call: method, normalised
// path, raw query, body, the body's content type and encoding (which say
// how the upstream reads the body) and token.
func (c *call) payloadHash() string {
	a := c.req.HTTP
	sum := sha256.Sum256(c.body)
	h := c.r.Header
	return review.Hash(a.Method, a.Path, a.RawQuery, hex.EncodeToString(sum[:]), c.token.ID,
		strings.Join(h.Values("Content-Type"), "\x00"), strings.Join(h.Values("Content-Encoding"), "\x00"))
}

// payload renders the call for approvers: request line, the headers that
// are forwarded (secrets shown as "[redacted]", as in the analysis), a
// blank line and the body.
func (c *call) payload() string {
	a := c.req.HTTP
	var b strings.Builder
	b.WriteString(a.Method)
	b.WriteByte(' ')
	b.WriteString(c.p.basePath + a.Path)
	if a.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(a.RawQuery)
	}
	b.WriteByte('\n')
	names := make([]string, 0, len(a.Headers))
	for name := range a.Headers {
		if c.forwardsHeader(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(a.Headers[name])
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	switch {
	case utf8.Valid(c.body):
		b.Write(c.body)
	default:
		sum := sha256.Sum256(c.body)
		fmt.Fprintf(&b, "[%d bytes of binary data, sha256 %x]", len(c.body), sum)
	}
	return b.String()
}

// forwardsHeader reports whether a lower-case header name from the
// analysis is sent upstream.
func (c *call) forwardsHeader(name string) bool {
	return c.forwards(http.CanonicalHeaderKey(name))
}

// forwards reports whether the client's header k (canonical) is copied
// upstream: not one qgate drops (dropSet), not in qgate's namespace, not
// the qgate token, and not named by Connection.
func (c *call) forwards(k string) bool {
	switch {
	case c.p.dropHeaders[k], isQgateHeader(k):
		return false
	case k == "Authorization":
		return c.tokenSource != "Authorization" && !looksLikeToken(c.r.Header["Authorization"])
	}
	return !headerHasToken(c.r.Header["Connection"], k)
}
