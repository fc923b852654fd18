package slack

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/review"
)

// Action ids of the message's buttons.
const (
	ActionApprove = "qgate_approve"
	ActionReject  = "qgate_reject"
	ActionOpen    = "qgate_open" // link button; Slack still sends an interaction, which is ignored
)

// Defaults for Options fields left zero.
const (
	DefaultQueueSize         = 1024
	DefaultMaxAttempts       = 5
	DefaultResponseURLPrefix = "https://hooks.slack.com/"
	// Tolerance is how far a request's X-Slack-Request-Timestamp may be
	// from the clock, in either direction.
	Tolerance = 5 * time.Minute
	// PayloadLimit is how many characters of the payload the message shows.
	PayloadLimit = 1500
	// maxRetryAfter caps Slack's Retry-After on rate-limited calls.
	maxRetryAfter = time.Minute
	// keepMessages is how long a review's message is remembered for
	// in-place updates.
	keepMessages = 7 * 24 * time.Hour
)

// Decider decides reviews; *review.Engine implements it.
type Decider interface {
	Approve(ctx context.Context, id int64, v review.Voter, comment string, grant time.Duration) (*qgate.Review, error)
	Reject(ctx context.Context, id int64, v review.Voter, comment string) (*qgate.Review, error)
	Get(ctx context.Context, id int64) (*qgate.Review, error)
}

var _ Decider = (*review.Engine)(nil)

// Options configure a Notifier. Token and Channel are required; Reviews,
// Identities and SigningSecret are required for InteractionHandler.
type Options struct {
	// Token is the bot token (xoxb-…). It is never logged.
	Token string
	// Channel is the channel id (C…) or name that review messages go to.
	Channel string
	// APIURL overrides Slack's Web API base URL (tests; must end in "/").
	APIURL string
	// HTTPClient sends Web API calls and response_url replies (default: a
	// client with a 10 s timeout).
	HTTPClient *http.Client
	// Reviews decides reviews from button clicks.
	Reviews Decider
	// Identities maps a Slack user's profile e-mail to a qgate identity
	// and its groups (Directory.Lookup does it from the configuration and
	// the identity store). An error with code ENOTFOUND or EFORBIDDEN
	// means the person may not decide from Slack; any other is a failure
	// to look.
	Identities func(ctx context.Context, email string) (identity string, groups []string, err error)
	// Messages keeps where each review's message is, so that a restarted
	// qgate still updates it in place (nil: in memory only).
	Messages MessageStore
	// SigningSecret is the Slack app's signing secret. It is never logged.
	SigningSecret []byte
	// PublicURL is the web UI's base URL, for review links when an event
	// carries none.
	PublicURL string
	// ResponseURLPrefix restricts where ephemeral replies are posted
	// (default DefaultResponseURLPrefix). When APIURL is set, response
	// URLs on its scheme and host are accepted too: a proxy in front of
	// Slack, or a fake in tests.
	ResponseURLPrefix string
	Logger            *slog.Logger
	// Now is the clock for signature timestamps (default time.Now).
	Now func() time.Time
	// Backoff is the wait after failed attempt number attempt (from 1)
	// (default 1s, 2s, 4s, … with jitter, up to a minute).
	Backoff     func(attempt int) time.Duration
	MaxAttempts int // per Web API call (default DefaultMaxAttempts)
	QueueSize   int // pending events (default DefaultQueueSize)
}

// MessageStore keeps the Slack message (channel and ts) of each review.
// store/sqlite implements it.
type MessageStore interface {
	// SaveSlackMessage records the message of a review, replacing any
	// recorded before.
	SaveSlackMessage(ctx context.Context, reviewID int64, channel, ts string) error
	// SlackMessage returns the message of a review; ENOTFOUND if none.
	SlackMessage(ctx context.Context, reviewID int64) (channel, ts string, err error)
}

// Notifier posts review messages to a Slack channel, updates them in place
// as reviews change, and handles their Approve/Reject buttons. It is safe
// for concurrent use.
type Notifier struct {
	api         *slackapi.Client
	http        *http.Client
	channel     string
	reviews     Decider
	identities  func(context.Context, string) (string, []string, error)
	store       MessageStore
	secret      []byte
	publicURL   string
	respPrefix  []string
	logger      *slog.Logger
	now         func() time.Time
	backoff     func(int) time.Duration
	maxAttempts int

	queue   chan qgate.ReviewEvent
	ctx     context.Context
	stop    context.CancelFunc
	worker  sync.WaitGroup // the event worker
	actions sync.WaitGroup // interaction goroutines

	mu       sync.RWMutex // guards closed against queue being closed
	closed   bool
	msgMu    sync.Mutex
	messages map[int64]msgRef
	seenMu   sync.Mutex
	seen     map[string]time.Time // "<timestamp>:<signature>" -> request time

	posted, updated, failed, dropped atomic.Uint64
}

type msgRef struct {
	channel, ts string
	at          time.Time
}

var _ qgate.Notifier = (*Notifier)(nil)

// Stats are counters since New.
type Stats struct {
	Posted, Updated, Failed, Dropped uint64
}

// New starts the notifier's worker.
func New(opts Options) *Notifier {
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	apiOpts := []slackapi.Option{slackapi.OptionHTTPClient(hc)}
	if opts.APIURL != "" {
		apiOpts = append(apiOpts, slackapi.OptionAPIURL(opts.APIURL))
	}
	n := &Notifier{
		api: slackapi.New(opts.Token, apiOpts...), http: hc, channel: opts.Channel,
		reviews: opts.Reviews, identities: opts.Identities, store: opts.Messages, secret: slices.Clone(opts.SigningSecret),
		publicURL: opts.PublicURL, logger: opts.Logger,
		now: opts.Now, backoff: opts.Backoff, maxAttempts: opts.MaxAttempts,
		messages: map[int64]msgRef{}, seen: map[string]time.Time{},
	}
	n.respPrefix = []string{cmp.Or(opts.ResponseURLPrefix, DefaultResponseURLPrefix)}
	if u, err := url.Parse(opts.APIURL); opts.APIURL != "" && err == nil && u.Host != "" {
		n.respPrefix = append(n.respPrefix, u.Scheme+"://"+u.Host+"/")
	}
	if n.logger == nil {
		n.logger = slog.Default()
	}
	n.logger = n.logger.With("notifier", "slack")
	if n.now == nil {
		n.now = time.Now
	}
	if n.backoff == nil {
		n.backoff = defaultBackoff
	}
	if n.maxAttempts <= 0 {
		n.maxAttempts = DefaultMaxAttempts
	}
	size := opts.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	n.queue = make(chan qgate.ReviewEvent, size)
	n.ctx, n.stop = context.WithCancel(context.Background())
	n.worker.Add(1)
	go n.run()
	return n
}

func defaultBackoff(attempt int) time.Duration {
	d := min(time.Second<<min(max(attempt-1, 0), 6), time.Minute)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// Notify queues ev and returns at once. Events other than created, voted,
// decided, ended and executed are ignored; an event that finds the queue
// full is dropped and logged.
func (n *Notifier) Notify(_ context.Context, ev qgate.ReviewEvent) {
	switch ev.Type {
	case qgate.ReviewCreated, qgate.ReviewVoted, qgate.ReviewDecided, qgate.ReviewEnded, qgate.ReviewExecuted:
	default:
		return
	}
	if ev.Review == nil {
		return
	}
	snap := *ev.Review // the engine already copies; copy again so callers may reuse theirs
	snap.Votes = slices.Clone(ev.Review.Votes)
	ev.Review = &snap
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		n.dropped.Add(1)
		return
	}
	select {
	case n.queue <- ev:
	default:
		n.dropped.Add(1)
		n.logger.Warn("slack queue full, event dropped", "event", ev.Type, "review", snap.ID)
	}
}

// Stats returns the notifier's counters.
func (n *Notifier) Stats() Stats {
	return Stats{Posted: n.posted.Load(), Updated: n.updated.Load(), Failed: n.failed.Load(), Dropped: n.dropped.Load()}
}

// Shutdown stops accepting events, delivers those queued and waits for
// button clicks in progress, until ctx ends; then it abandons the rest as
// Close does.
func (n *Notifier) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.worker.Wait(); n.actions.Wait(); close(done) }()
	select {
	case <-done:
		n.stop()
		return nil
	case <-ctx.Done():
		n.stop()
		<-done
		return ctx.Err()
	}
}

// Close stops at once: queued events are abandoned and calls in flight
// cancelled.
func (n *Notifier) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = n.Shutdown(ctx)
	return nil
}

func (n *Notifier) run() {
	defer n.worker.Done()
	for ev := range n.queue {
		if n.ctx.Err() != nil {
			n.failed.Add(1)
			continue
		}
		n.deliver(ev)
	}
}

func (n *Notifier) deliver(ev qgate.ReviewEvent) {
	r := ev.Review
	url := ev.URL
	if url == "" {
		url = n.reviewURL(r.ID)
	}
	log := n.logger.With("event", ev.Type, "review", r.ID)
	text, blocks := buildMessage(r, url)
	if ev.Type == qgate.ReviewCreated {
		var channel, ts string
		err := n.retry(log, "chat.postMessage", func(ctx context.Context) error {
			var err error
			channel, ts, err = n.api.PostMessageContext(ctx, n.channel,
				slackapi.MsgOptionText(text, false), slackapi.MsgOptionBlocks(blocks...))
			return err
		})
		if err != nil {
			n.failed.Add(1)
			return
		}
		n.posted.Add(1)
		n.remember(r.ID, channel, ts)
		n.save(log, r.ID, channel, ts)
		log.Info("slack message posted", "channel", channel, "ts", ts)
		return
	}
	ref, ok := n.message(n.ctx, log, r.ID)
	if !ok {
		log.Debug("no slack message to update")
		return
	}
	err := n.retry(log, "chat.update", func(ctx context.Context) error {
		_, _, _, err := n.api.UpdateMessageContext(ctx, ref.channel, ref.ts,
			slackapi.MsgOptionText(text, false), slackapi.MsgOptionBlocks(blocks...))
		return err
	})
	if err != nil {
		n.failed.Add(1)
		return
	}
	n.updated.Add(1)
	log.Info("slack message updated", "channel", ref.channel, "ts", ref.ts, "status", r.Status)
	if ev.Type == qgate.ReviewExecuted || ev.Type == qgate.ReviewEnded ||
		(ev.Type == qgate.ReviewDecided && r.Status != qgate.ReviewApproved) {
		n.forget(r.ID)
	}
}

// retry calls fn until it succeeds, fails for good (Slack said no: bad
// token, unknown channel, …) or runs out of attempts. Errors are logged
// without the token or the message.
func (n *Notifier) retry(log *slog.Logger, method string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(n.ctx, 15*time.Second)
		err := fn(ctx)
		cancel()
		if err == nil {
			return nil
		}
		var slackErr slackapi.SlackErrorResponse
		var rl *slackapi.RateLimitedError
		final := errors.As(err, &slackErr) || attempt >= n.maxAttempts || n.ctx.Err() != nil
		if final {
			log.Error("slack call failed", "method", method, "attempt", attempt, "err", err)
			return err
		}
		wait := n.backoff(attempt)
		if errors.As(err, &rl) && rl.RetryAfter > 0 {
			wait = min(rl.RetryAfter, maxRetryAfter)
		}
		log.Warn("slack call failed, will retry", "method", method, "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.ctx.Done():
			t.Stop()
			return n.ctx.Err()
		}
	}
}

func (n *Notifier) reviewURL(id int64) string {
	return n.publicURL + "/reviews/" + itoa(id)
}

func (n *Notifier) remember(id int64, channel, ts string) {
	if channel == "" || ts == "" {
		return
	}
	now := n.now()
	n.msgMu.Lock()
	defer n.msgMu.Unlock()
	for k, m := range n.messages {
		if now.Sub(m.at) > keepMessages {
			delete(n.messages, k)
		}
	}
	n.messages[id] = msgRef{channel: channel, ts: ts, at: now}
}

// save persists where a review's message is, when a MessageStore is set.
// A failure only costs in-place updates after a restart: it is logged.
func (n *Notifier) save(log *slog.Logger, id int64, channel, ts string) {
	if n.store == nil || channel == "" || ts == "" {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	if err := n.store.SaveSlackMessage(ctx, id, channel, ts); err != nil {
		log.Error("slack message reference not saved; it will not be updated after a restart", "err", err)
	}
}

// rememberIfUnknown records where a clicked message lives, so that a
// qgate that lost track of it (a store without the reference, a message
// posted by another replica) can still update it.
func (n *Notifier) rememberIfUnknown(ctx context.Context, log *slog.Logger, id int64, channel, ts string) {
	if _, ok := n.message(ctx, log, id); !ok {
		n.remember(id, channel, ts)
		n.save(log, id, channel, ts)
	}
}

// message returns where review id's message is: from memory, else from
// the MessageStore (a message posted before a restart).
func (n *Notifier) message(ctx context.Context, log *slog.Logger, id int64) (msgRef, bool) {
	n.msgMu.Lock()
	m, ok := n.messages[id]
	n.msgMu.Unlock()
	if ok || n.store == nil {
		return m, ok
	}
	channel, ts, err := n.store.SlackMessage(ctx, id)
	if err != nil {
		if qgate.ErrorCode(err) != qgate.ENOTFOUND {
			log.Error("slack message reference lookup failed", "err", err)
		}
		return msgRef{}, false
	}
	n.remember(id, channel, ts)
	return msgRef{channel: channel, ts: ts, at: n.now()}, true
}

// forget drops the in-memory reference of a review that is over. The
// stored one stays: it is small, and lets a late event still find the
// message.
func (n *Notifier) forget(id int64) {
	n.msgMu.Lock()
	defer n.msgMu.Unlock()
	delete(n.messages, id)
}
