package web

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/qgate/qgate"
)

// storyLimit bounds the events one story reads per query: a request has a
// handful (request, review, votes, decision, execution).
const storyLimit = 1000

// Story is one request's whole history: its audit events in order
// (request → decision → review → each vote → the review's outcome → the
// execution with its rows or status) and the reviews that held it.
type Story struct {
	RequestID string              `json:"request_id"`
	Events    []*qgate.AuditEvent `json:"events"`
	Reviews   []*Review           `json:"reviews"`
}

// requestStory serves GET /api/v1/requests/{id}: the events of the
// request id, those of every review that held it, and those of the
// requests that carried out such a review (an HTTP client repeating the
// call with Qgate-Review), in seq order. Staff see any request; others
// only their own. ENOTFOUND when there is nothing (visible).
func (s *Server) requestStory(w http.ResponseWriter, r *http.Request, c *Caller) error {
	id := r.PathValue("id")
	if id == "" || len(id) > 200 {
		return qgate.Errorf(qgate.EINVALID, "request id must be 1 to 200 characters")
	}
	ctx := r.Context()
	seen := map[int64]*qgate.AuditEvent{}
	requests := map[string]bool{}
	reviews := map[int64]bool{}
	add := func(f qgate.AuditFilter) error {
		f.Limit = storyLimit
		es, err := s.Store.ListAudit(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range es {
			seen[e.Seq] = e
		}
		return nil
	}
	if err := add(qgate.AuditFilter{RequestID: id}); err != nil {
		return err
	}
	requests[id] = true
	// Follow reviews to the requests that executed them, and those
	// requests to their reviews, until nothing new turns up (in practice
	// one or two rounds).
	for range 4 {
		var newReviews []int64
		var newRequests []string
		for _, e := range seen {
			if e.ReviewID != 0 && !reviews[e.ReviewID] {
				reviews[e.ReviewID] = true
				newReviews = append(newReviews, e.ReviewID)
			}
			if e.RequestID != "" && !requests[e.RequestID] {
				requests[e.RequestID] = true
				newRequests = append(newRequests, e.RequestID)
			}
		}
		if len(newReviews) == 0 && len(newRequests) == 0 {
			break
		}
		for _, rid := range newReviews {
			if err := add(qgate.AuditFilter{ReviewID: rid}); err != nil {
				return err
			}
		}
		for _, q := range newRequests {
			if err := add(qgate.AuditFilter{RequestID: q}); err != nil {
				return err
			}
		}
	}
	st := &Story{RequestID: id, Events: make([]*qgate.AuditEvent, 0, len(seen)), Reviews: []*Review{}}
	for _, e := range seen {
		st.Events = append(st.Events, e)
	}
	slices.SortFunc(st.Events, func(a, b *qgate.AuditEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	ids := make([]int64, 0, len(reviews))
	for rid := range reviews {
		ids = append(ids, rid)
	}
	slices.Sort(ids)
	for _, rid := range ids {
		rv, err := s.Reviews.Get(ctx, rid)
		if qgate.ErrorCode(err) == qgate.ENOTFOUND {
			continue
		}
		if err != nil {
			return err
		}
		st.Reviews = append(st.Reviews, s.view(rv, c))
	}
	if len(st.Events) == 0 || !c.staff() && !ownStory(c, st) {
		return qgate.Errorf(qgate.ENOTFOUND, "request %q not found", id)
	}
	return writeJSON(w, http.StatusOK, st)
}

// ownStory reports whether the story is c's own request: its request
// events carry c's identity.
func ownStory(c *Caller, st *Story) bool {
	for _, e := range st.Events {
		if e.Type == qgate.AuditRequest && e.RequestID == st.RequestID {
			return e.Identity == c.Identity
		}
	}
	for _, rv := range st.Reviews {
		if rv.RequestID == st.RequestID {
			return rv.Requester == c.Identity
		}
	}
	return false
}
