package review

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/qgate/qgate"
)

// Auditor records audit events durably; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, e *qgate.AuditEvent) error
}

// Defaults.
const (
	DefaultTimeout  = 15 * time.Minute
	DefaultMaxGrant = 24 * time.Hour
	casRetries      = 16
)

// Engine runs reviews. Fields are collaborators and settings; set them
// before first use.
type Engine struct {
	Store  qgate.ReviewStore
	Grants qgate.GrantStore
	Audit  Auditor
	// Notifiers are told about every change (webhooks, Slack).
	Notifiers []qgate.Notifier
	// PublicURL is the web UI's base URL, for review links.
	PublicURL string
	// MaxGrant caps the grant window an approver may attach.
	MaxGrant time.Duration
	Now      func() time.Time
	Logger   *slog.Logger

	hub *hub
}

// New returns an Engine with working defaults.
func New(store qgate.ReviewStore, grants qgate.GrantStore, audit Auditor) *Engine {
	return &Engine{Store: store, Grants: grants, Audit: audit, MaxGrant: DefaultMaxGrant,
		Now: time.Now, Logger: slog.Default(), hub: newHub()}
}

// Voter is a person deciding a review, with their groups resolved by the
// caller (from the configuration, or from an identity provider's claims).
type Voter struct {
	Identity string
	Groups   []string
}

// Request is what a listener asks the engine to hold.
type Request struct {
	Request  *qgate.Request
	Decision qgate.Decision
	// Payload is the exact request as approvers see it and as it will run
	// (SQL text with bound parameters, or an HTTP request rendering).
	Payload string
	// PayloadHash binds the approval to the exact bytes (see Hash).
	PayloadHash string
	// Shape is the grant key (gate.Shape).
	Shape string
}

// Hash returns a hex SHA-256 over length-prefixed parts, so that ("ab","c")
// and ("a","bc") differ. Listeners use it for Request.PayloadHash.
func Hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// URL returns the review's page.
func (e *Engine) URL(id int64) string {
	return fmt.Sprintf("%s/reviews/%d", e.PublicURL, id)
}

func (e *Engine) now() time.Time { return e.Now().UTC() }

// Create stores a pending review for a review decision and announces it.
func (e *Engine) Create(ctx context.Context, in Request) (*qgate.Review, error) {
	req := in.Request
	if in.Decision.Action != qgate.ActionReview {
		return nil, qgate.Errorf(qgate.EINVALID, "only review decisions create reviews, not %q", in.Decision.Action)
	}
	now := e.now()
	r := &qgate.Review{
		Status: qgate.ReviewPending, Protocol: req.Protocol, Target: req.Target, Environment: req.Environment,
		RequestID: req.ID, Requester: req.Principal.Identity, TokenID: req.Principal.TokenID, SourceIP: req.SourceIP,
		Payload: in.Payload, PayloadHash: in.PayloadHash, Shape: in.Shape, Decision: in.Decision,
		Votes: []qgate.Vote{}, CreatedAt: now, ExpiresAt: now.Add(in.Decision.Timeout(DefaultTimeout)),
	}
	if err := e.Store.CreateReview(ctx, r); err != nil {
		return nil, fmt.Errorf("create review: %w", err)
	}
	if err := e.audit(ctx, r, qgate.AuditReview, "created", map[string]any{
		"requirements": r.Decision.Requirements, "payload_hash": r.PayloadHash, "expires_at": r.ExpiresAt}); err != nil {
		return nil, err
	}
	e.publish(ctx, qgate.ReviewCreated, r)
	return r, nil
}

// Get returns a review, expiring it first if its time has passed.
func (e *Engine) Get(ctx context.Context, id int64) (*qgate.Review, error) {
	r, err := e.Store.Review(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Status == qgate.ReviewPending && !e.now().Before(r.ExpiresAt) {
		return e.Expire(ctx, id)
	}
	return r, nil
}

// Wait blocks until the review is no longer pending and returns it. It
// expires the review itself when its time comes. When ctx ends first it
// returns the review as it stands with ctx's error.
func (e *Engine) Wait(ctx context.Context, id int64) (*qgate.Review, error) {
	for {
		woken := e.hub.watch(id)
		r, err := e.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if r.Status != qgate.ReviewPending {
			return r, nil
		}
		timer := time.NewTimer(r.ExpiresAt.Sub(e.now()))
		select {
		case <-woken:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return r, ctx.Err()
		}
		timer.Stop()
	}
}

// Approve records voter's approval. With grant > 0 the voter asks that the
// same shape from the same token be allowed for that long once the review
// is approved (capped at MaxGrant; a grant is created only when every
// approving vote asked for one, for the shortest window asked).
//
// Errors: EFORBIDDEN for the requester or a voter outside every required
// group; ECONFLICT when the voter already voted or the review is no longer
// pending; ENOTFOUND.
func (e *Engine) Approve(ctx context.Context, id int64, v Voter, comment string, grant time.Duration) (*qgate.Review, error) {
	if grant < 0 {
		return nil, qgate.Errorf(qgate.EINVALID, "grant window must be positive")
	}
	if grant > e.MaxGrant {
		grant = e.MaxGrant
	}
	return e.vote(ctx, id, v, true, comment, grant)
}

// Reject records voter's rejection, which rejects the review. Errors as
// for Approve.
func (e *Engine) Reject(ctx context.Context, id int64, v Voter, comment string) (*qgate.Review, error) {
	return e.vote(ctx, id, v, false, comment, 0)
}

func (e *Engine) vote(ctx context.Context, id int64, v Voter, approve bool, comment string, grant time.Duration) (*qgate.Review, error) {
	if v.Identity == "" {
		return nil, qgate.Errorf(qgate.EUNAUTHORIZED, "voting needs an identity")
	}
	if _, err := e.Get(ctx, id); err != nil { // expires it if due
		return nil, err
	}
	var r *qgate.Review
	var decided bool
	err := e.update(ctx, id, func(cur *qgate.Review) error {
		if cur.Requester == v.Identity {
			return qgate.Errorf(qgate.EFORBIDDEN, "you cannot approve or reject your own request")
		}
		if !eligible(cur, v) {
			return qgate.Errorf(qgate.EFORBIDDEN, "%s is not in a group that may decide review %d (needs one of %v)", v.Identity, cur.ID, approverGroups(cur))
		}
		if cur.Status != qgate.ReviewPending {
			return qgate.Errorf(qgate.ECONFLICT, "review %d is already %s", cur.ID, cur.Status)
		}
		if !e.now().Before(cur.ExpiresAt) {
			return qgate.Errorf(qgate.ECONFLICT, "review %d has expired", cur.ID)
		}
		for _, old := range cur.Votes {
			if old.Identity == v.Identity {
				return qgate.Errorf(qgate.ECONFLICT, "%s already voted on review %d", v.Identity, cur.ID)
			}
		}
		vote := qgate.Vote{Identity: v.Identity, Groups: v.Groups, Approve: approve, Comment: comment, At: e.now()}
		if grant > 0 {
			vote.Grant = grant.String()
		}
		cur.Votes = append(cur.Votes, vote)
		decided = false
		switch {
		case !approve:
			cur.Status, cur.DecidedAt, cur.Reason = qgate.ReviewRejected, e.now(), rejectReason(v.Identity, comment)
			decided = true
		case quorumMet(cur):
			cur.Status, cur.DecidedAt = qgate.ReviewApproved, e.now()
			decided = true
		}
		r = cur
		return nil
	})
	if err != nil {
		return nil, err
	}
	action := "approve"
	if !approve {
		action = "reject"
	}
	if err := e.auditVote(ctx, r, v, action, comment, grant); err != nil {
		return nil, err
	}
	if !decided {
		e.publish(ctx, qgate.ReviewVoted, r)
		return r, nil
	}
	if err := e.audit(ctx, r, qgate.AuditReview, string(r.Status), map[string]any{"by": v.Identity, "reason": r.Reason}); err != nil {
		return nil, err
	}
	if r.Status == qgate.ReviewApproved {
		if err := e.grant(ctx, r); err != nil {
			e.Logger.Error("create grant", "review", r.ID, "err", err)
		}
	}
	e.publish(ctx, qgate.ReviewDecided, r)
	return r, nil
}

func rejectReason(who, comment string) string {
	if comment == "" {
		return "rejected by " + who
	}
	return fmt.Sprintf("rejected by %s: %s", who, comment)
}

// Cancel withdraws a pending review (the client went away or cancelled).
// A review that is no longer pending is returned unchanged.
func (e *Engine) Cancel(ctx context.Context, id int64, reason string) (*qgate.Review, error) {
	return e.end(ctx, id, qgate.ReviewCancelled, reason)
}

// Expire ends a pending review whose time has passed. A review that is no
// longer pending, or not yet due, is returned unchanged.
func (e *Engine) Expire(ctx context.Context, id int64) (*qgate.Review, error) {
	return e.end(ctx, id, qgate.ReviewExpired, "no decision before the review timed out")
}

func (e *Engine) end(ctx context.Context, id int64, status qgate.ReviewStatus, reason string) (*qgate.Review, error) {
	var r *qgate.Review
	changed := false
	err := e.update(ctx, id, func(cur *qgate.Review) error {
		r = cur
		changed = false
		if cur.Status != qgate.ReviewPending {
			return errUnchanged
		}
		if status == qgate.ReviewExpired && e.now().Before(cur.ExpiresAt) {
			return errUnchanged
		}
		cur.Status, cur.DecidedAt, cur.Reason = status, e.now(), reason
		changed = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !changed {
		return r, nil
	}
	if err := e.audit(ctx, r, qgate.AuditReview, string(status), map[string]any{"reason": reason}); err != nil {
		return nil, err
	}
	e.publish(ctx, qgate.ReviewEnded, r)
	return r, nil
}

// Execute marks an approved review as executed, exactly once, for the
// identical request from the same token. Listeners call it right before
// forwarding the approved payload.
//
// Errors: EFORBIDDEN when the token or payload differ or the review was
// not approved; ECONFLICT when it was already executed.
func (e *Engine) Execute(ctx context.Context, id int64, tokenID, payloadHash string) (*qgate.Review, error) {
	var r *qgate.Review
	err := e.update(ctx, id, func(cur *qgate.Review) error {
		switch {
		case cur.TokenID != tokenID:
			return qgate.Errorf(qgate.EFORBIDDEN, "review %d belongs to another token", cur.ID)
		case cur.PayloadHash != payloadHash:
			return qgate.Errorf(qgate.EFORBIDDEN, "review %d approved a different request", cur.ID)
		case cur.Status != qgate.ReviewApproved:
			return qgate.Errorf(qgate.EFORBIDDEN, "review %d is %s, not approved", cur.ID, cur.Status)
		case !cur.ExecutedAt.IsZero():
			return qgate.Errorf(qgate.ECONFLICT, "review %d was already executed", cur.ID)
		}
		cur.ExecutedAt = e.now()
		r = cur
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := e.audit(ctx, r, qgate.AuditReview, "executed", nil); err != nil {
		return nil, err
	}
	e.publish(ctx, qgate.ReviewExecuted, r)
	return r, nil
}

// List returns reviews, expiring any pending ones whose time has passed.
func (e *Engine) List(ctx context.Context, f qgate.ReviewFilter) ([]*qgate.Review, error) {
	rs, err := e.Store.ListReviews(ctx, f)
	if err != nil {
		return nil, err
	}
	out := rs[:0]
	now := e.now()
	for _, r := range rs {
		if r.Status == qgate.ReviewPending && !now.Before(r.ExpiresAt) {
			if r, err = e.Expire(ctx, r.ID); err != nil {
				return nil, err
			}
			if f.Status == qgate.ReviewPending {
				continue
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Run expires due reviews every interval until ctx ends, so that reviews
// nobody waits on still end on time.
func (e *Engine) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := e.List(ctx, qgate.ReviewFilter{Status: qgate.ReviewPending}); err != nil && ctx.Err() == nil {
				e.Logger.Error("expire reviews", "err", err)
			}
		}
	}
}

// Subscribe streams review events until cancel is called. A subscriber
// that falls more than buf events behind misses events.
func (e *Engine) Subscribe(buf int) (events <-chan qgate.ReviewEvent, cancel func()) {
	return e.hub.subscribe(buf)
}

// Changed tells the engine that another process changed review id, so
// local waiters re-read it.
func (e *Engine) Changed(id int64) { e.hub.wake(id) }

// CanDecide reports whether v may vote on r (not the requester, in a
// required group, has not voted, review pending).
func CanDecide(r *qgate.Review, v Voter) bool {
	if r.Status != qgate.ReviewPending || r.Requester == v.Identity || !eligible(r, v) {
		return false
	}
	for _, old := range r.Votes {
		if old.Identity == v.Identity {
			return false
		}
	}
	return true
}

var errUnchanged = qgate.Errorf("unchanged", "unchanged")

// update applies fn to a fresh copy of the review and stores it with
// compare-and-set, retrying on conflicts.
func (e *Engine) update(ctx context.Context, id int64, fn func(*qgate.Review) error) error {
	for i := 0; i < casRetries; i++ {
		cur, err := e.Store.Review(ctx, id)
		if err != nil {
			return err
		}
		if err := fn(cur); err == errUnchanged {
			return nil
		} else if err != nil {
			return err
		}
		err = e.Store.UpdateReview(ctx, cur)
		if qgate.ErrorCode(err) == qgate.ECONFLICT {
			continue
		}
		if err != nil {
			return fmt.Errorf("update review %d: %w", id, err)
		}
		return nil
	}
	return qgate.Errorf(qgate.ECONFLICT, "review %d is changing too fast; try again", id)
}

// eligible reports whether v is in a group of any requirement. A
// requirement without approver groups accepts anyone but the requester.
func eligible(r *qgate.Review, v Voter) bool {
	for _, req := range r.Decision.Requirements {
		if len(req.Approvers) == 0 || inAny(v, req.Approvers) {
			return true
		}
	}
	return len(r.Decision.Requirements) == 0
}

func inAny(v Voter, groups []string) bool {
	for _, g := range groups {
		if slices.Contains(v.Groups, g) || g == v.Identity {
			return true
		}
	}
	return false
}

func approverGroups(r *qgate.Review) []string {
	var gs []string
	for _, req := range r.Decision.Requirements {
		for _, g := range req.Approvers {
			if !slices.Contains(gs, g) {
				gs = append(gs, g)
			}
		}
	}
	return gs
}

// quorumMet reports whether every requirement has its quorum of distinct
// approving people from its groups.
func quorumMet(r *qgate.Review) bool {
	reqs := r.Decision.Requirements
	if len(reqs) == 0 {
		reqs = []qgate.ReviewRequirement{{Quorum: 1}}
	}
	for _, req := range reqs {
		if Progress(r, req) < max(req.Quorum, 1) {
			return false
		}
	}
	return true
}

// Progress counts the distinct people whose approval counts toward req.
func Progress(r *qgate.Review, req qgate.ReviewRequirement) int {
	seen := map[string]bool{}
	for _, v := range r.Votes {
		if !v.Approve || v.Identity == r.Requester || seen[v.Identity] {
			continue
		}
		if len(req.Approvers) == 0 || inAny(Voter{Identity: v.Identity, Groups: v.Groups}, req.Approvers) {
			seen[v.Identity] = true
		}
	}
	return len(seen)
}

// grant creates the grant that the approving votes asked for.
func (e *Engine) grant(ctx context.Context, r *qgate.Review) error {
	if e.Grants == nil || r.Shape == "" || r.TokenID == "" {
		return nil
	}
	window := time.Duration(0)
	for _, v := range r.Votes {
		if !v.Approve {
			continue
		}
		d, err := time.ParseDuration(v.Grant)
		if v.Grant == "" || err != nil || d <= 0 {
			return nil // one approver did not agree to a grant
		}
		if window == 0 || d < window {
			window = d
		}
	}
	if window == 0 {
		return nil
	}
	now := e.now()
	g := &qgate.Grant{TokenID: r.TokenID, Target: r.Target, Shape: r.Shape, ReviewID: r.ID,
		CreatedBy: lastApprover(r), CreatedAt: now, ExpiresAt: now.Add(window)}
	if err := e.Grants.CreateGrant(ctx, g); err != nil {
		return err
	}
	return e.audit(ctx, r, qgate.AuditGrant, "created", map[string]any{"grant_id": g.ID, "shape": g.Shape, "expires_at": g.ExpiresAt, "by": g.CreatedBy})
}

func lastApprover(r *qgate.Review) string {
	if n := len(r.Votes); n > 0 {
		return r.Votes[n-1].Identity
	}
	return ""
}

func (e *Engine) auditVote(ctx context.Context, r *qgate.Review, v Voter, action, comment string, grant time.Duration) error {
	data := map[string]any{"by": v.Identity, "groups": v.Groups, "comment": comment}
	if grant > 0 {
		data["grant"] = grant.String()
	}
	ev := e.event(r, qgate.AuditVote, action, data)
	ev.Identity = v.Identity
	return e.append(ctx, ev)
}

func (e *Engine) audit(ctx context.Context, r *qgate.Review, typ, action string, data map[string]any) error {
	return e.append(ctx, e.event(r, typ, action, data))
}

func (e *Engine) event(r *qgate.Review, typ, action string, data map[string]any) *qgate.AuditEvent {
	ev := &qgate.AuditEvent{Time: e.now(), Type: typ, Action: action, RequestID: r.RequestID, TokenID: r.TokenID,
		Identity: r.Requester, Target: r.Target, Environment: r.Environment, ReviewID: r.ID}
	if data != nil {
		b, err := json.Marshal(data)
		if err == nil {
			ev.Data = b
		}
	}
	return ev
}

func (e *Engine) append(ctx context.Context, ev *qgate.AuditEvent) error {
	if e.Audit == nil {
		return nil
	}
	if err := e.Audit.Append(context.WithoutCancel(ctx), ev); err != nil {
		return fmt.Errorf("audit review %d: %w", ev.ReviewID, err)
	}
	return nil
}

func (e *Engine) publish(ctx context.Context, typ string, r *qgate.Review) {
	snap := *r
	snap.Votes = slices.Clone(r.Votes)
	ev := qgate.ReviewEvent{Type: typ, Review: &snap, URL: e.URL(r.ID)}
	e.hub.publish(ev)
	for _, n := range e.Notifiers {
		n.Notify(context.WithoutCancel(ctx), ev)
	}
}
