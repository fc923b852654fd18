package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/review"
)

// Limits of list endpoints.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Review is a review as the API shows it to one caller: every field of
// qgate.Review plus what an approver needs at a glance.
type Review struct {
	*qgate.Review
	// URL is the review's page in the web UI.
	URL string `json:"url"`
	// CanDecide reports whether the caller may vote now: not the
	// requester, in a required group, not voted yet, review pending.
	CanDecide bool `json:"can_decide"`
	// Progress has one entry per requirement (one review policy each).
	Progress []Progress `json:"progress"`
	// TimeLeftSeconds is how long a pending review has before it expires;
	// 0 once it is no longer pending.
	TimeLeftSeconds int64 `json:"time_left_seconds"`
}

// Progress is how far one requirement is from its quorum.
type Progress struct {
	Policy    string   `json:"policy"`
	Approvers []string `json:"approvers"`
	Quorum    int      `json:"quorum"`
	// Approved counts the distinct people whose approval counts toward
	// this requirement.
	Approved int `json:"approved"`
}

// view renders r for c. It copies r, so r (an event's snapshot, say) is
// not modified.
func (s *Server) view(r *qgate.Review, c *Caller) *Review {
	cp := *r
	if cp.Votes == nil {
		cp.Votes = []qgate.Vote{}
	}
	if cp.Decision.Matched == nil {
		cp.Decision.Matched = []qgate.MatchedPolicy{}
	}
	if cp.Decision.Risk.Findings == nil {
		cp.Decision.Risk.Findings = []qgate.Finding{}
	}
	v := &Review{Review: &cp, URL: s.Reviews.URL(r.ID), CanDecide: review.CanDecide(&cp, c.voter())}
	reqs := cp.Decision.Requirements
	if len(reqs) == 0 {
		// The engine asks one approval from anyone but the requester.
		reqs = []qgate.ReviewRequirement{{Quorum: 1}}
	}
	for _, req := range reqs {
		approvers := req.Approvers
		if approvers == nil {
			approvers = []string{}
		}
		v.Progress = append(v.Progress, Progress{Policy: req.Policy, Approvers: approvers,
			Quorum: max(req.Quorum, 1), Approved: review.Progress(&cp, req)})
	}
	if cp.Status == qgate.ReviewPending {
		v.TimeLeftSeconds = max(int64(cp.ExpiresAt.Sub(s.now())/time.Second), 0)
	}
	return v
}

// canSee reports whether c may see review r: staff see every review,
// others their own requests and those they are named to approve.
func canSee(c *Caller, r *qgate.Review) bool {
	return c.staff() || r.Requester == c.Identity || namedApprover(c, r)
}

// namedApprover reports whether a requirement of r names c or one of c's
// groups, or names nobody (anyone but the requester may approve).
func namedApprover(c *Caller, r *qgate.Review) bool {
	for _, req := range r.Decision.Requirements {
		if len(req.Approvers) == 0 {
			return true
		}
		for _, a := range req.Approvers {
			if a == c.Identity || slices.Contains(c.Groups, a) {
				return true
			}
		}
	}
	return len(r.Decision.Requirements) == 0
}

var reviewStatuses = map[string]qgate.ReviewStatus{
	"all": "", "pending": qgate.ReviewPending, "approved": qgate.ReviewApproved, "rejected": qgate.ReviewRejected,
	"expired": qgate.ReviewExpired, "cancelled": qgate.ReviewCancelled,
}

// listReviews serves GET /api/v1/reviews?status=&target=&requester=&limit=,
// newest first.
func (s *Server) listReviews(w http.ResponseWriter, r *http.Request, c *Caller) error {
	q := r.URL.Query()
	f := qgate.ReviewFilter{Target: q.Get("target"), Requester: q.Get("requester")}
	status := q.Get("status")
	if status != "" {
		st, ok := reviewStatuses[status]
		if !ok {
			return qgate.Errorf(qgate.EINVALID, "status must be one of pending, approved, rejected, expired, cancelled or all, not %q", status)
		}
		f.Status = st
	}
	var err error
	if f.Limit, err = limitParam(q); err != nil {
		return err
	}
	limit := f.Limit
	if !c.staff() {
		// Read more and keep what c may see.
		f.Limit = MaxLimit
	}
	rs, err := s.Reviews.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]*Review, 0, len(rs))
	for _, rv := range rs {
		if len(out) < limit && canSee(c, rv) {
			out = append(out, s.view(rv, c))
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// getReview serves GET /api/v1/reviews/{id}.
func (s *Server) getReview(w http.ResponseWriter, r *http.Request, c *Caller) error {
	rv, err := s.visibleReview(r, c)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.view(rv, c))
}

// visibleReview returns the review named in the path, expired first if
// its time has passed; ENOTFOUND also when c may not see it.
func (s *Server) visibleReview(r *http.Request, c *Caller) (*qgate.Review, error) {
	id, err := pathID(r, "review")
	if err != nil {
		return nil, err
	}
	rv, err := s.Reviews.Get(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !canSee(c, rv) {
		return nil, qgate.Errorf(qgate.ENOTFOUND, "review %d not found", id)
	}
	return rv, nil
}

// VoteRequest is the body of approve and reject. Grant (approve only) is a
// Go duration such as "30m": the approver agrees that the same query shape
// from the same token is allowed for that long.
type VoteRequest struct {
	Comment string `json:"comment,omitempty"`
	Grant   string `json:"grant,omitempty"`
}

// approve serves POST /api/v1/reviews/{id}/approve.
func (s *Server) approve(w http.ResponseWriter, r *http.Request, c *Caller) error {
	var body VoteRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	var grant time.Duration
	if body.Grant != "" {
		d, err := time.ParseDuration(body.Grant)
		if err != nil || d <= 0 {
			return qgate.Errorf(qgate.EINVALID, "grant must be a positive duration such as 30m, not %q", body.Grant)
		}
		grant = d
	}
	// Reading it first expires a review whose time has passed, so that a
	// late vote cannot approve it.
	rv, err := s.visibleReview(r, c)
	if err != nil {
		return err
	}
	if rv, err = s.Reviews.Approve(r.Context(), rv.ID, c.voter(), body.Comment, grant); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.view(rv, c))
}

// reject serves POST /api/v1/reviews/{id}/reject.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, c *Caller) error {
	var body VoteRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Grant != "" {
		return qgate.Errorf(qgate.EINVALID, "a rejection cannot carry a grant")
	}
	rv, err := s.visibleReview(r, c)
	if err != nil {
		return err
	}
	if rv, err = s.Reviews.Reject(r.Context(), rv.ID, c.voter(), body.Comment); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.view(rv, c))
}

// pathID parses the {id} path value as a positive integer.
func pathID(r *http.Request, what string) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, qgate.Errorf(qgate.EINVALID, "%s id must be a positive number, not %q", what, s)
	}
	return id, nil
}

// limitParam parses ?limit= (DefaultLimit when absent, at most MaxLimit).
func limitParam(q url.Values) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > MaxLimit {
		return 0, qgate.Errorf(qgate.EINVALID, "limit must be a number from 1 to %d, not %q", MaxLimit, s)
	}
	return n, nil
}
