package httpproxy

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/qgate/qgate"
)

// problemBase prefixes every problem type.
const problemBase = "https://qgate.dev/problems/"

// problem is an RFC 9457 problem details document, with qgate's
// extension members. Zero members are left out.
type problem struct {
	slug      string
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	ReviewID  int64  `json:"review_id,omitempty"`
	ReviewURL string `json:"review_url,omitempty"`
	ErrorID   string `json:"error_id,omitempty"`
}

// problem answers the call with pr; outcome is for the metrics.
func (c *call) problem(pr problem, outcome string) {
	pr.Type = problemBase + pr.slug
	pr.RequestID = c.id
	b, err := json.Marshal(pr)
	if err != nil { // cannot happen: only strings and numbers
		b = []byte(`{"type":"about:blank","status":` + strconv.Itoa(pr.Status) + `}`)
	}
	c.writeJSON(pr.Status, "application/problem+json", b)
	c.outcome = outcome
}

// internal answers 503 for a failure that is not the client's: a
// dependency (token store, review store) is unavailable. The client gets
// a generic message and an error id; the log gets the error, and the audit
// log the refusal if the call was analysed and not yet recorded.
func (c *call) internal(err error, detail string) {
	c.errID = newErrorID()
	c.p.Logger.LogAttrs(c.ctx, slog.LevelError, "http proxy error", slog.String("target", c.p.Target.Name),
		slog.String("request_id", c.id), slog.String("error_id", c.errID), slog.Any("err", err))
	if c.req != nil && !c.audited {
		c.auditRequest(qgate.ActionDeny, "internal error "+c.errID, false)
	}
	c.problem(problem{Status: http.StatusServiceUnavailable, slug: "unavailable", Title: "Service unavailable",
		Detail: detail + "; nothing was forwarded", ReviewID: c.reviewID, ErrorID: c.errID}, "error")
}

// pendingReply is the body of a 202 for a call still held.
type pendingReply struct {
	Status    string    `json:"status"`
	ReviewID  int64     `json:"review_id"`
	ReviewURL string    `json:"review_url"`
	Retry     string    `json:"retry"`
	RequestID string    `json:"request_id"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// pending answers 202 Accepted: the review is still pending, the client
// may repeat the call with Qgate-Review once it is approved.
func (c *call) pending(id int64, expires time.Time) {
	u := c.p.Reviews.URL(id)
	sid := strconv.FormatInt(id, 10)
	b, _ := json.Marshal(pendingReply{Status: "pending", ReviewID: id, ReviewURL: u, RequestID: c.id, ExpiresAt: expires,
		Retry: "repeat the identical request with header " + HeaderReview + ": " + sid + " once approved"})
	h := &c.fc.Response.Header
	h.Set(HeaderReview, sid)
	h.Set("Location", u)
	c.writeJSON(http.StatusAccepted, "application/json", b)
	c.outcome = "held"
}

func (c *call) writeJSON(status int, contentType string, b []byte) {
	res := &c.fc.Response
	res.Header.SetContentType(contentType)
	res.Header.Set("Cache-Control", "no-store")
	res.Header.Set("X-Content-Type-Options", "nosniff")
	res.SetStatusCode(status)
	c.status = status
	res.SetBody(append(b, '\n'))
}

// newErrorID returns a short random id that ties a client's error to the
// log line holding the real error.
func newErrorID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
