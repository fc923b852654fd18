package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/qgate/qgate"
)

// Defaults for Endpoint and Options fields left zero.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultMaxAttempts   = 6
	DefaultQueueSize     = 1024
	DefaultMaxRetryAfter = 5 * time.Minute
)

// DefaultEvents are the events of an endpoint that lists none.
func DefaultEvents() []string {
	return []string{qgate.ReviewCreated, qgate.ReviewDecided, qgate.ReviewEnded}
}

// Endpoint is one receiver of webhook deliveries.
type Endpoint struct {
	// Name identifies the endpoint in logs and in the delivery log.
	Name string
	// URL receives a POST per event. It is never logged, since such URLs
	// often carry a token of their own.
	URL string
	// Secret signs every delivery; it must not be empty.
	Secret []byte
	// Events are the event types to deliver (qgate.ReviewCreated, …);
	// empty means DefaultEvents().
	Events []string
	// Timeout bounds one attempt, from connecting to reading the status
	// (default DefaultTimeout).
	Timeout time.Duration
	// MaxAttempts is how many times one delivery is tried before giving up
	// (default DefaultMaxAttempts).
	MaxAttempts int
}

// Options are a Notifier's collaborators. Every field is optional.
type Options struct {
	// Client sends the requests. The default client uses its own
	// transport and does not follow redirects: a 3xx is a failed delivery.
	Client *http.Client
	Logger *slog.Logger
	// Now is the clock for signature timestamps, event times and the
	// delivery log (default time.Now).
	Now func() time.Time
	// Backoff is the wait after failed attempt number attempt (from 1)
	// before the next (default ExponentialBackoff). A receiver's
	// Retry-After, when present, is used instead.
	Backoff func(attempt int) time.Duration
	// MaxRetryAfter caps a receiver's Retry-After (default
	// DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// Log records every attempt (default: none; attempts are still logged
	// with Logger).
	Log DeliveryLog
	// QueueSize bounds each endpoint's queue of pending deliveries
	// (default DefaultQueueSize). Events that find it full are dropped.
	QueueSize int
}

// Stats are one endpoint's counters since New.
type Stats struct {
	Endpoint string
	// Queued deliveries are waiting for the worker (the one in flight is
	// not counted).
	Queued int
	// Delivered and Failed count deliveries (not attempts) that ended with
	// a 2xx, or without one (given up, refused, or abandoned at Close).
	Delivered, Failed uint64
	// Dropped counts events not queued: the queue was full, or the
	// notifier was closed.
	Dropped uint64
}

// Notifier delivers review events to webhook endpoints. Notify only
// queues; one worker goroutine per endpoint delivers that endpoint's
// events one at a time, in the order they were notified, retrying each
// before moving on to the next. It is safe for concurrent use.
type Notifier struct {
	workers       []*worker
	client        *http.Client
	ownClient     bool
	logger        *slog.Logger
	now           func() time.Time
	backoff       func(int) time.Duration
	maxRetryAfter time.Duration
	log           DeliveryLog

	// ctx is cancelled when a shutdown stops waiting: in-flight requests
	// and backoff waits end at once.
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu     sync.RWMutex // guards closed against the queues being closed
	closed bool
}

var _ qgate.Notifier = (*Notifier)(nil)

type worker struct {
	ep     Endpoint
	events map[string]bool
	queue  chan *job

	delivered, failed, dropped atomic.Uint64
}

// job is one event on its way to one endpoint.
type job struct {
	id       string
	typ      string
	at       time.Time
	reviewID int64
	review   json.RawMessage
	url      string
}

// New starts a worker per endpoint. Zero Endpoint and Options fields take
// their defaults. It panics if an endpoint has no secret: the config
// package refuses such files, so this is a programming error.
func New(endpoints []Endpoint, opts Options) *Notifier {
	n := &Notifier{
		client: opts.Client, logger: opts.Logger, now: opts.Now, backoff: opts.Backoff,
		maxRetryAfter: opts.MaxRetryAfter, log: opts.Log,
	}
	if n.client == nil {
		n.client = &http.Client{
			Transport:     http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		n.ownClient = true
	}
	if n.logger == nil {
		n.logger = slog.Default()
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.backoff == nil {
		n.backoff = ExponentialBackoff
	}
	if n.maxRetryAfter <= 0 {
		n.maxRetryAfter = DefaultMaxRetryAfter
	}
	size := opts.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	n.ctx, n.stop = context.WithCancel(context.Background())
	for _, ep := range endpoints {
		if len(ep.Secret) == 0 {
			panic(fmt.Sprintf("webhook: endpoint %q has no secret", ep.Name))
		}
		ep.Secret = slices.Clone(ep.Secret)
		ep.Events = slices.Clone(ep.Events)
		if len(ep.Events) == 0 {
			ep.Events = DefaultEvents()
		}
		if ep.Timeout <= 0 {
			ep.Timeout = DefaultTimeout
		}
		if ep.MaxAttempts <= 0 {
			ep.MaxAttempts = DefaultMaxAttempts
		}
		w := &worker{ep: ep, events: map[string]bool{}, queue: make(chan *job, size)}
		for _, e := range ep.Events {
			w.events[e] = true
		}
		n.workers = append(n.workers, w)
	}
	n.wg.Add(len(n.workers))
	for _, w := range n.workers {
		go n.run(w)
	}
	return n
}

// Notify queues ev for every endpoint subscribed to its type, and returns
// at once. The review is encoded here, so later changes to it are not
// seen. An endpoint whose queue is full drops the event (logged, counted
// in Stats); so does every endpoint once the notifier is closed.
func (n *Notifier) Notify(ctx context.Context, ev qgate.ReviewEvent) {
	var targets []*worker
	for _, w := range n.workers {
		if w.events[ev.Type] {
			targets = append(targets, w)
		}
	}
	if len(targets) == 0 {
		return
	}
	if ev.Review == nil {
		n.logger.ErrorContext(ctx, "webhook event without a review; dropped", "event", ev.Type)
		return
	}
	review, err := json.Marshal(newReview(ev.Review))
	if err != nil {
		n.logger.ErrorContext(ctx, "webhook: encode review; event dropped", "event", ev.Type, "review", ev.Review.ID, "error", err)
		return
	}
	at := n.now().UTC()

	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, w := range targets {
		j := &job{id: newID(), typ: ev.Type, at: at, reviewID: ev.Review.ID, review: review, url: ev.URL}
		reason := "queue full"
		if !n.closed {
			select {
			case w.queue <- j:
				continue
			default:
			}
		} else {
			reason = "notifier closed"
		}
		w.dropped.Add(1)
		n.logger.WarnContext(ctx, "webhook event dropped: "+reason,
			"endpoint", w.ep.Name, "event", ev.Type, "review", ev.Review.ID, "dropped", w.dropped.Load())
	}
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// Stats returns each endpoint's counters, in the order given to New.
func (n *Notifier) Stats() []Stats {
	out := make([]Stats, len(n.workers))
	for i, w := range n.workers {
		out[i] = Stats{Endpoint: w.ep.Name, Queued: len(w.queue),
			Delivered: w.delivered.Load(), Failed: w.failed.Load(), Dropped: w.dropped.Load()}
	}
	return out
}

// Shutdown stops accepting events and waits until every queued delivery
// has ended, retries included. If ctx ends first, in-flight attempts and
// backoff waits are cut short, whatever is still queued is abandoned
// (recorded as failed), and ctx's error is returned once the workers have
// exited. It may be called more than once.
func (n *Notifier) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		for _, w := range n.workers {
			close(w.queue)
		}
	}
	n.mu.Unlock()

	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		n.stop()
		<-done
	}
	n.stop()
	if n.ownClient {
		n.client.CloseIdleConnections()
	}
	return err
}

// Close stops the workers at once: it is Shutdown without waiting for the
// queues to drain. Queued deliveries are abandoned (logged, recorded as
// failed). It always returns nil.
func (n *Notifier) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n.Shutdown(ctx)
	return nil
}

// errClosed ends a delivery cut short by Shutdown or Close.
var errClosed = errors.New("abandoned: notifier closed")

func (n *Notifier) run(w *worker) {
	defer n.wg.Done()
	for j := range w.queue {
		if n.ctx.Err() != nil {
			n.finish(w, j, 0)
			continue
		}
		n.deliver(w, j)
	}
}

// finish records a delivery abandoned after attempts attempts.
func (n *Notifier) finish(w *worker, j *job, attempts int) {
	w.failed.Add(1)
	n.record(w, Delivery{ID: j.id, Endpoint: w.ep.Name, Event: j.typ, ReviewID: j.reviewID,
		Attempt: attempts, Error: errClosed.Error(), At: n.now(), Final: true}, 0)
}

// deliver tries j until it succeeds, fails for good, runs out of attempts,
// or the notifier stops.
func (n *Notifier) deliver(w *worker, j *job) {
	body, err := json.Marshal(envelope{ID: j.id, Type: j.typ, Time: j.at, Review: j.review, URL: j.url})
	if err != nil { // cannot happen: every field is a plain value or valid JSON
		w.failed.Add(1)
		n.record(w, Delivery{ID: j.id, Endpoint: w.ep.Name, Event: j.typ, ReviewID: j.reviewID,
			Error: "encode payload: " + err.Error(), At: n.now(), Final: true}, 0)
		return
	}
	for attempt := 1; ; attempt++ {
		d, retry, retryAfter := n.attempt(w, j, body, attempt)
		var wait time.Duration
		if retry && attempt < w.ep.MaxAttempts && n.ctx.Err() == nil {
			wait = n.backoff(attempt)
			if retryAfter >= 0 {
				wait = min(retryAfter, n.maxRetryAfter)
			}
		} else {
			d.Final = true
			if d.OK() {
				w.delivered.Add(1)
			} else {
				w.failed.Add(1)
			}
		}
		n.record(w, d, wait)
		if d.Final {
			return
		}
		if !sleep(n.ctx, wait) {
			n.finish(w, j, attempt)
			return
		}
	}
}

// attempt sends body once. retry tells whether a failure is worth another
// attempt; retryAfter is the receiver's Retry-After, or -1.
func (n *Notifier) attempt(w *worker, j *job, body []byte, attempt int) (d Delivery, retry bool, retryAfter time.Duration) {
	start := n.now()
	d = Delivery{ID: j.id, Endpoint: w.ep.Name, Event: j.typ, ReviewID: j.reviewID, Attempt: attempt, At: start}
	retryAfter = -1
	t0 := time.Now()
	defer func() { d.Duration = time.Since(t0) }()

	ctx, cancel := context.WithTimeout(n.ctx, w.ep.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.ep.URL, bytes.NewReader(body))
	if err != nil {
		d.Error = "build request: " + unwrapURLError(err).Error()
		return d, false, retryAfter
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderEvent, j.typ)
	req.Header.Set(HeaderDelivery, j.id)
	req.Header.Set(HeaderSignature, Sign(w.ep.Secret, start, body))
	resp, err := n.client.Do(req)
	if err != nil {
		switch {
		case n.ctx.Err() != nil:
			d.Error = errClosed.Error()
			return d, false, retryAfter
		case errors.Is(err, context.DeadlineExceeded):
			d.Error = fmt.Sprintf("no answer within %s", w.ep.Timeout)
		default:
			d.Error = unwrapURLError(err).Error()
		}
		return d, true, retryAfter
	}
	// Drain a little of the body so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	d.Status = resp.StatusCode
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return d, false, retryAfter
	}
	d.Error = "receiver answered " + resp.Status
	if !retryable(resp.StatusCode) {
		return d, false, retryAfter
	}
	if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), n.now()); ok {
		retryAfter = ra
	}
	return d, true, retryAfter
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// URL: webhook URLs often embed a token.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// record logs one attempt and hands it to the delivery log. The secret,
// the URL and the payload are never logged.
func (n *Notifier) record(w *worker, d Delivery, retryIn time.Duration) {
	attrs := []any{"endpoint", d.Endpoint, "delivery", d.ID, "event", d.Event, "review", d.ReviewID,
		"attempt", d.Attempt, "status", d.Status, "duration", d.Duration}
	ctx := context.Background()
	switch {
	case d.OK():
		n.logger.InfoContext(ctx, "webhook delivered", attrs...)
	case !d.Final:
		n.logger.WarnContext(ctx, "webhook attempt failed; will retry", append(attrs, "error", d.Error, "retry_in", retryIn)...)
	default:
		n.logger.ErrorContext(ctx, "webhook delivery failed", append(attrs, "error", d.Error, "max_attempts", w.ep.MaxAttempts)...)
	}
	if n.log != nil {
		if err := n.log.RecordDelivery(ctx, d); err != nil {
			n.logger.WarnContext(ctx, "webhook: record delivery", "endpoint", d.Endpoint, "delivery", d.ID, "error", err)
		}
	}
}
