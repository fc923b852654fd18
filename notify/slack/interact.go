package slack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/review"
)

// Slack's request-signing headers.
const (
	HeaderSignature = "X-Slack-Signature"
	HeaderTimestamp = "X-Slack-Request-Timestamp"
)

// Errors of Verify.
var (
	ErrNoSecret          = errors.New("slack: no signing secret")
	ErrMissingHeaders    = errors.New("slack: missing signature headers")
	ErrBadSignature      = errors.New("slack: signature does not match")
	ErrStaleTimestamp    = errors.New("slack: request timestamp outside the 5-minute window")
	ErrReplayed          = errors.New("slack: request already seen")
	errNotificationsOnly = errors.New("slack: no Reviews or Identities configured")
)

const maxBody = 1 << 20

// Sign returns Slack's v0 signature of body sent at ts (Unix seconds):
// "v0=" + hex HMAC-SHA256(secret, "v0:<ts>:<body>"). Tests use it to
// forge Slack's requests.
func Sign(secret []byte, ts string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("v0:" + ts + ":"))
	h.Write(body)
	return "v0=" + hex.EncodeToString(h.Sum(nil))
}

// verify checks the signature and timestamp (constant-time, ±Tolerance),
// then refuses a (timestamp, signature) pair already seen within the
// window. Only verified requests are remembered, so forgeries cannot fill
// the memory or pre-empt a real request.
func (n *Notifier) verify(h http.Header, body []byte) error {
	if len(n.secret) == 0 {
		return ErrNoSecret
	}
	ts, sig := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if ts == "" || sig == "" {
		return ErrMissingHeaders
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrStaleTimestamp
	}
	now := n.now()
	at := time.Unix(secs, 0)
	if d := now.Sub(at); d > Tolerance || d < -Tolerance {
		return ErrStaleTimestamp
	}
	if !hmac.Equal([]byte(Sign(n.secret, ts, body)), []byte(sig)) {
		return ErrBadSignature
	}
	key := ts + ":" + sig
	n.seenMu.Lock()
	defer n.seenMu.Unlock()
	for k, t := range n.seen {
		if now.Sub(t) > Tolerance {
			delete(n.seen, k) // stale: refused by the timestamp check
		}
	}
	if _, dup := n.seen[key]; dup {
		return ErrReplayed
	}
	// Keep it until its timestamp leaves the window: from then on the
	// timestamp check refuses it.
	n.seen[key] = at
	return nil
}

// InteractionHandler serves Slack's interactivity request URL. It checks
// the request's signature, answers 200 at once and handles an Approve or
// Reject click in the background: it looks the Slack user's e-mail up
// (users.info), maps it to a qgate identity with Options.Identities and
// votes with Options.Reviews. Refusals (unknown person, the engine's
// rules, link-only reviews) are told to the clicker with an ephemeral
// message through the interaction's response_url. The message itself is
// updated when the engine reports the change through Notify.
//
// Forged, stale (more than 5 minutes) and replayed requests get 401.
func (n *Notifier) InteractionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := n.verify(r.Header, body); err != nil {
			n.logger.Warn("slack interaction refused", "remote", r.RemoteAddr, "err", err)
			http.Error(w, "invalid request signature", http.StatusUnauthorized)
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("payload") == "" {
			http.Error(w, "missing payload", http.StatusBadRequest)
			return
		}
		var cb slackapi.InteractionCallback
		if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		if cb.Type != slackapi.InteractionTypeBlockActions {
			return
		}
		for _, a := range cb.ActionCallback.BlockActions {
			if a == nil || (a.ActionID != ActionApprove && a.ActionID != ActionReject) {
				continue // the link button, or someone else's
			}
			n.mu.RLock()
			closed := n.closed
			if !closed {
				n.actions.Add(1)
			}
			n.mu.RUnlock()
			if closed {
				return
			}
			go func(a slackapi.BlockAction) {
				defer n.actions.Done()
				ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
				defer cancel()
				n.act(ctx, &cb, a)
			}(*a)
			return // one decision per click
		}
	})
}

// act performs one click. Everything it tells the clicker goes through
// the response_url as an ephemeral message.
func (n *Notifier) act(ctx context.Context, cb *slackapi.InteractionCallback, a slackapi.BlockAction) {
	approve := a.ActionID == ActionApprove
	log := n.logger.With("slack_user", cb.User.ID, "action", a.ActionID)
	reply := func(format string, args ...any) { n.ephemeral(ctx, log, cb.ResponseURL, fmt.Sprintf(format, args...)) }
	id, err := strconv.ParseInt(a.Value, 10, 64)
	if err != nil || id <= 0 {
		log.Warn("slack interaction with a bad review id")
		reply("This button does not name a qgate review.")
		return
	}
	log = log.With("review", id)
	if n.reviews == nil || n.identities == nil {
		log.Error("slack interaction refused", "err", errNotificationsOnly)
		reply("qgate does not accept decisions from Slack; decide review #%d in qgate.", id)
		return
	}
	u, err := n.api.GetUserInfoContext(ctx, cb.User.ID)
	if err != nil {
		log.Error("slack users.info failed", "err", err)
		reply("qgate could not look up your Slack profile; try again, or decide review #%d in qgate.", id)
		return
	}
	email := u.Profile.Email
	identity, groups, err := "", []string(nil), qgate.Errorf(qgate.ENOTFOUND, "no e-mail address in the Slack profile")
	if email != "" {
		identity, groups, err = n.identities(ctx, email)
	}
	switch code := qgate.ErrorCode(err); {
	case code == qgate.ENOTFOUND || (err == nil && identity == ""):
		log.Warn("slack user not mapped to a qgate identity", "has_email", email != "")
		reply("Your Slack account is not linked to a qgate identity (no approver with your e-mail address), so your decision was not recorded.")
		return
	case code == qgate.EFORBIDDEN:
		log.Warn("slack user not mapped to a qgate identity", "err", err)
		reply("Your Slack account cannot be linked to one qgate identity (%s), so your decision was not recorded.", qgate.ErrorMessage(err))
		return
	case err != nil:
		log.Error("slack identity lookup failed", "err", err)
		reply("qgate could not look up your identity; try again, or decide review #%d in qgate.", id)
		return
	}
	log = log.With("identity", identity)
	r, err := n.reviews.Get(ctx, id)
	if err != nil {
		log.Warn("slack interaction: review lookup failed", "err", err)
		reply("Review #%d: %s", id, qgate.ErrorMessage(err))
		return
	}
	n.rememberIfUnknown(ctx, log, id, cb.Container.ChannelID, cb.Container.MessageTs)
	if !slackMayDecide(r) {
		log.Warn("slack decision refused: review is link-only")
		reply("Review #%d must be decided in qgate, not in Slack: %s", id, n.reviewURL(id))
		return
	}
	v := review.Voter{Identity: identity, Groups: groups}
	if approve {
		r, err = n.reviews.Approve(ctx, id, v, "via Slack", 0)
	} else {
		r, err = n.reviews.Reject(ctx, id, v, "via Slack")
	}
	if err != nil {
		log.Warn("slack decision refused", "err", err)
		reply("Review #%d: %s", id, qgate.ErrorMessage(err))
		return
	}
	log.Info("slack decision recorded", "status", r.Status)
	if r.Status == qgate.ReviewPending {
		reply("Your approval of review #%d is recorded; it still needs more approvals.", id)
	}
}

// ephemeral shows text to the clicker only. The response_url is not
// logged: it is a bearer credential for the message.
func (n *Notifier) ephemeral(ctx context.Context, log *slog.Logger, responseURL, text string) {
	allowed := slices.ContainsFunc(n.respPrefix, func(p string) bool { return strings.HasPrefix(responseURL, p) })
	if responseURL == "" || !allowed {
		log.Warn("slack reply not sent: missing or unexpected response_url")
		return
	}
	body, _ := json.Marshal(map[string]any{
		"response_type": "ephemeral", "replace_original": false, "text": text,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
	if err != nil {
		log.Warn("slack reply failed", "err", "bad response_url")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // drop the URL
		}
		log.Warn("slack reply failed", "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		log.Warn("slack reply refused", "status", resp.StatusCode)
	}
}
