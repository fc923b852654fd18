package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit/journal"
	"github.com/qgate/qgate/internal/jsonenc"
)

// DefaultMaxBatch is LogOptions.MaxBatch when it is zero.
const DefaultMaxBatch = 512

// ErrClosed is returned by Append after Close.
var ErrClosed error = &qgate.Error{Code: qgate.EINTERNAL, Message: "audit log is closed"}

// Durability says when the request event of an allowed call must be on
// disk: before the call is forwarded (Sync), or within one group commit
// after it (Async). Every other event (refusals, reviews, votes,
// administration) is durable before its caller goes on in both modes.
type Durability string

const (
	// DurabilitySync: AppendAllowed waits until the event is on disk:
	// in the journal, with LogOptions.Journal, otherwise committed, like
	// Append. A crash can never lose the record of a forwarded call.
	DurabilitySync Durability = "sync"
	// DurabilityAsync: AppendAllowed queues the event and returns; the
	// writer commits it with the next batch (within maxAsyncDelay, 10
	// ms, plus one commit).
	// A crash of qgate or the machine can lose the records of the calls
	// forwarded in those last milliseconds. A failed batch switches
	// AppendAllowed back to waiting until a batch commits again, so a
	// broken store still stops traffic after the first failure.
	DurabilityAsync Durability = "async"
)

// LogOptions configures a Log.
type LogOptions struct {
	// MaxBatch is the most events a batch takes from Append callers, and
	// how many AppendAsync events make the writer start a batch. Events
	// collected by AppendAsync all join the next transaction (up to four
	// batches' worth wait before AppendAsync blocks), so one transaction
	// may hold up to five times MaxBatch.
	MaxBatch int
	// Durability applies to AppendAllowed; default DurabilitySync.
	Durability Durability
	// Journal, under DurabilitySync, makes AppendAllowed return once its
	// event is in the journal (one durable write for all the
	// events that arrive together) instead of once the store committed
	// it; the writer then commits those events with its next batch,
	// recording how far the journal is applied (JournalStore). It must
	// have been replayed into the store (ReplayJournal). The Log uses it
	// only if the store is a JournalStore, and closes it on Close.
	Journal *journal.Journal
	// Logger receives failed batches. Default: slog.Default().
	Logger *slog.Logger
}

// LogStats counts what a Log has written, for metrics.
type LogStats struct {
	Events  int64 // events appended successfully
	Batches int64 // store transactions that committed
	Failed  int64 // events whose batch failed
}

// JournalStore is an AuditStore that can record, in the same transaction
// as a batch, that the Log's journal is applied up to a sequence number,
// and return that mark. *sqlite.DB implements it.
type JournalStore interface {
	qgate.AuditStore
	AppendAuditMarked(ctx context.Context, events []*qgate.AuditEvent, mark int64) error
	AuditJournalMark(ctx context.Context) (int64, error)
}

// Log appends audit events with group commit. One writer goroutine takes
// every event queued (up to MaxBatch), appends them in one call to the
// store, and then wakes their callers; while that transaction commits, the
// next batch queues up. When callers append in a loop, the writer lingers
// for a few microseconds (never more than an eighth of a commit, nor a
// millisecond) so that those just woken make the next batch too. Create it
// with NewLog and stop it with Close.
type Log struct {
	store      qgate.AuditStore
	maxBatch   int
	logger     *slog.Logger
	allowAsync bool // Durability == DurabilityAsync

	// failing is set when a batch fails and cleared when one commits.
	failing atomic.Bool

	mu     sync.RWMutex // guards closed and sending on queue
	closed bool
	queue  chan *pending // events whose callers wait (Append)
	done   chan struct{}

	// Events nobody waits for (AppendAsync) are not sent to the writer
	// one by one: each send would wake it, a few microseconds of CPU per
	// event. They collect in async, and the writer is kicked only when
	// the first one arrives or a batch's worth is waiting; it takes them
	// with the next batch (see takeAsync for the order).
	amu      sync.Mutex
	async    []*pending
	asyncMax int        // AppendAsync waits while this many are collected
	room     *sync.Cond // on amu: the writer took the collected events
	kick     chan struct{}

	events, batches, failed atomic.Int64

	// With a journal (LogOptions.Journal): AppendAllowed's events queue
	// in jqueue; whoever holds the lead (jleading: a caller writing its
	// own event, or the journal goroutine, which jkick hands it to)
	// writes them to j and moves them to async. applied is the journal
	// mark the store holds; appliedCh is closed and replaced whenever it
	// grows. jbroken is set when the journal failed: AppendAllowed is
	// Append from then on.
	j         *journal.Journal
	jstore    JournalStore
	jmu       sync.Mutex
	jqueue    []*pending
	jleading  bool
	jbatch    []*pending // the lead's batch buffer
	jw        journalBufs
	jkick     chan struct{}
	jdone     chan struct{}
	jbroken   atomic.Bool
	flushNow  atomic.Bool   // the journal is full: commit without waiting for more
	closing   atomic.Bool   // Close has begun
	retry     time.Duration // the wait before retrying events put back after a failure
	applied   atomic.Int64
	appliedMu sync.Mutex
	appliedCh chan struct{}
}

// journalBufs are the lead's buffers for encoding a journal record,
// kept between records.
type journalBufs struct {
	buf     []byte
	entries [][]byte
	ends    []int
	answer  []chan result
}

// pending is one queued event. The writer works on its own copy, so a
// caller that gives up waiting never races with it.
type pending struct {
	e   qgate.AuditEvent
	res chan result // buffered, one result; nil for AppendAsync
	// done is AppendAsync's callback, called by the writer.
	done func(*qgate.AuditEvent, error)
	// jseq is the event's journal sequence number, 0 if not journaled.
	jseq int64
}

type result struct {
	e   qgate.AuditEvent // as appended, with Seq, Time, PrevHash, Hash
	err error
}

// NewLog starts a Log writing to store.
func NewLog(store qgate.AuditStore, opts LogOptions) *Log {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &Log{
		store:      store,
		maxBatch:   opts.MaxBatch,
		logger:     opts.Logger,
		allowAsync: opts.Durability == DurabilityAsync,
		queue:      make(chan *pending, opts.MaxBatch),
		done:       make(chan struct{}),
		asyncMax:   4 * opts.MaxBatch,
		kick:       make(chan struct{}, 1),
	}
	l.room = sync.NewCond(&l.amu)
	if js, ok := store.(JournalStore); ok && opts.Journal != nil && !l.allowAsync {
		l.j, l.jstore = opts.Journal, js
		l.jkick = make(chan struct{}, 1)
		l.jdone = make(chan struct{})
		l.appliedCh = make(chan struct{})
		l.applied.Store(opts.Journal.LastSeq())
		go l.runJournal()
	} else if opts.Journal != nil {
		opts.Journal.Close() // not used: nothing to keep it open for
	}
	go l.run()
	return l
}

// Append queues e and waits until the batch holding it is committed, then
// sets e's Seq, Time, PrevHash and Hash as stored. It returns the store's
// error if that batch failed, EINVALID if e's Data is not JSON, and
// ErrClosed after Close. Data is stored compacted (insignificant
// whitespace removed), so that an exported event hashes as stored.
//
// ctx bounds the wait. If it ends after e was queued, Append returns
// ctx's error and e may still be appended.
func (l *Log) Append(ctx context.Context, e *qgate.AuditEvent) error {
	res := make(chan result, 1)
	p, err := newPending(e, res)
	if err != nil {
		return err
	}
	if err := l.enqueue(ctx, p); err != nil {
		return err
	}
	return await(ctx, res, e)
}

// newPending copies e into a pending event answered on res (nil for
// AppendAsync), its data compacted; EINVALID if e is nil or its data is
// not JSON.
func newPending(e *qgate.AuditEvent, res chan result) (*pending, error) {
	if e == nil {
		return nil, qgate.Errorf(qgate.EINVALID, "nil audit event")
	}
	p := &pending{e: *e, res: res}
	if err := compactData(&p.e); err != nil {
		return nil, err
	}
	return p, nil
}

// await waits for the answer to an event queued with res, up to ctx,
// and sets e to the event as the store appended it, if it did.
func await(ctx context.Context, res chan result, e *qgate.AuditEvent) error {
	select {
	case r := <-res:
		if r.err != nil {
			return r.err
		}
		if r.e.Seq != 0 { // a journaled event has none yet
			*e = r.e
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("append audit: %w (the event may still be recorded)", ctx.Err())
	}
}

// AppendAsync queues e like Append but does not wait for its batch: done
// is called with the event as appended (or as queued, on error) and the
// batch's error once the batch is committed. done runs on the writer
// goroutine and must be quick (it may be nil, and must not append to the
// Log); it is not called when AppendAsync returns an error (EINVALID,
// ErrClosed). With four batches' worth of such events waiting (the store
// is slower than the callers), AppendAsync waits for the writer to take
// them. Close appends every event queued before it.
func (l *Log) AppendAsync(e *qgate.AuditEvent, done func(*qgate.AuditEvent, error)) error {
	p, err := newPending(e, nil)
	if err != nil {
		return err
	}
	p.done = done
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	l.amu.Lock()
	for len(l.async) >= l.asyncMax {
		l.room.Wait() // the store is slower than the callers: wait for it
	}
	l.async = append(l.async, p)
	n := len(l.async)
	l.amu.Unlock()
	if n == 1 || n >= l.maxBatch {
		l.wake()
	}
	return nil
}

// wake kicks the writer without blocking.
func (l *Log) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// asyncLen returns how many AppendAsync events are collected.
func (l *Log) asyncLen() int {
	l.amu.Lock()
	defer l.amu.Unlock()
	return len(l.async)
}

// takeAsync moves every collected AppendAsync event into batch, before
// the events batch already holds (which came from the queue). That order
// is each caller's order: a caller's Append returns only after its event
// is committed, so anything it queued with AppendAsync before an Append it
// is waiting for is already collected when the writer receives that
// Append's event. All of them are taken, even past MaxBatch: one left
// behind would be committed after a later Append of the same caller.
// Back-pressure keeps them to four batches' worth.
func (l *Log) takeAsync(batch []*pending) []*pending {
	l.amu.Lock()
	n := len(l.async)
	if n == 0 {
		l.amu.Unlock()
		return batch
	}
	batch = append(batch, l.async...) // grow; then shift the queue's events after
	copy(batch[n:], batch[:len(batch)-n])
	copy(batch, l.async)
	clear(l.async)
	l.async = l.async[:0]
	l.room.Broadcast()
	l.amu.Unlock()
	return batch
}

// AppendAllowed records the request event of a call that is about to be
// forwarded. Under DurabilitySync with a journal it returns once e is in
// the journal (e's Seq, PrevHash and Hash stay unset: the store gives
// them when the writer commits it with its next batch). Under
// DurabilitySync without one, and in both modes while the store is
// failing, it is Append. Under DurabilityAsync it queues e like
// AppendAsync and returns at once; a failure of its batch is logged by
// the writer and makes the next calls wait for the store (see
// DurabilityAsync). e must not be changed after the call.
func (l *Log) AppendAllowed(ctx context.Context, e *qgate.AuditEvent) error {
	if l.j != nil && !l.jbroken.Load() && !l.failing.Load() {
		return l.appendJournaled(ctx, e)
	}
	if !l.allowAsync || l.failing.Load() {
		return l.Append(ctx, e)
	}
	return l.AppendAsync(e, nil)
}

// Failing reports whether the last batch failed to commit.
func (l *Log) Failing() bool { return l.failing.Load() }

// Durability returns the Log's durability mode.
func (l *Log) Durability() Durability {
	if l.allowAsync {
		return DurabilityAsync
	}
	return DurabilitySync
}

// compactData removes insignificant whitespace from e.Data, and returns
// EINVALID if it is not JSON. Data without whitespace outside its strings
// (what json.Marshal makes) is only validated, in one pass.
func compactData(e *qgate.AuditEvent) error {
	if len(e.Data) == 0 {
		return nil
	}
	valid, spaced := jsonenc.ValidSpaced(e.Data)
	if !valid {
		return qgate.Errorf(qgate.EINVALID, "audit event data is not valid JSON")
	}
	if !spaced {
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(len(e.Data))
	if err := json.Compact(&buf, e.Data); err != nil {
		return qgate.Errorf(qgate.EINVALID, "audit event data is not valid JSON")
	}
	e.Data = buf.Bytes()
	return nil
}

// enqueue hands p to the writer, waiting for room up to ctx.
func (l *Log) enqueue(ctx context.Context, p *pending) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	select {
	case l.queue <- p:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("append audit: %w", ctx.Err())
	}
}

// QueueDepth returns how many events are waiting for the next batch.
func (l *Log) QueueDepth() int { return len(l.queue) + l.asyncLen() }

// Stats returns counters since NewLog.
func (l *Log) Stats() LogStats {
	return LogStats{Events: l.events.Load(), Batches: l.batches.Load(), Failed: l.failed.Load()}
}

// Close stops accepting events, appends everything already queued, and
// waits for the writer to finish. It does not close the store; it closes
// the journal, if any. It is safe to call more than once.
func (l *Log) Close() error {
	// A caller writing to the journal holds mu while it waits for room
	// in a full journal: this tells it to give up (awaitApplied).
	l.closing.Store(true)
	l.mu.Lock()
	first := !l.closed
	if first {
		l.closed = true
		if l.jkick != nil {
			// No caller holds the lead now (they hold mu while they
			// do); a lead handed on is in the kick, which the journal
			// goroutine still receives.
			close(l.jkick)
		}
	}
	l.mu.Unlock()
	if l.jkick != nil {
		// The journal goroutine hands its last events to the writer,
		// which must still be running for that.
		<-l.jdone
	}
	if first {
		close(l.queue)
	}
	<-l.done
	if first && l.j != nil {
		// A clean stop with everything applied leaves nothing to replay.
		var err error
		if !l.jbroken.Load() && l.applied.Load() >= l.j.LastSeq() {
			err = l.j.Clear()
		}
		return errors.Join(err, l.j.Close())
	}
	return nil
}

// run is the writer goroutine.
func (l *Log) run() {
	defer close(l.done)
	batch := make([]*pending, 0, l.maxBatch)
	events := make([]*qgate.AuditEvent, 0, l.maxBatch)
	// Callers of the previous batch plus those that queued while it was
	// being written: an estimate of how many are appending concurrently.
	var active int
	var took time.Duration // how long the previous append took
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		idle := time.Now()
		batch = batch[:0]
		closing := false
		select {
		case p, ok := <-l.queue:
			if ok {
				batch = append(batch, p)
			} else {
				closing = true
			}
		case <-l.kick:
		}
		if closing {
			// Close: everything collected goes out before the writer stops.
			for {
				if batch = l.takeAsync(batch[:0]); len(batch) == 0 {
					return
				}
				l.flush(batch, events[:0], true)
			}
		}
		if time.Since(idle) > took {
			// Nobody came back for a whole commit's time: the previous
			// callers are not appending in a loop.
			active = 1
		}
		// Until takeAsync, batch holds queued events only: Append's,
		// whose callers wait.
		batch = l.fill(batch, active, min(took/lingerFraction, maxLinger))
		batch = l.awaitWaiter(batch, timer)
		waiting := len(batch)
		l.flushNow.Store(false) // this batch takes what the journal waits for
		if batch = l.takeAsync(batch); len(batch) == 0 {
			continue // a kick for events an earlier batch took
		}
		start := time.Now()
		l.flush(batch, events[:0], false)
		took = time.Since(start)
		// Only callers that wait come back at once; collected events
		// ride along with whatever batch comes next.
		active = waiting + len(l.queue)
	}
}

// fill waits for stragglers at most 1/lingerFraction of the previous
// append's duration, and never more than maxLinger, so that one slow
// commit does not slow the next batch down.
const (
	lingerFraction = 8
	maxLinger      = time.Millisecond
)

// fill adds queued events to batch, up to MaxBatch.
//
// The callers of the previous batch were woken when it committed, and
// those that append in a loop are about to queue their next events: while
// the batch is smaller than want (how many were appending last time), fill
// yields the processor and looks again, for at most linger. Without that,
// some of those callers would miss the batch and wait for a whole extra
// commit. Under light load want is 1 and fill does not wait at all.
func (l *Log) fill(batch []*pending, want int, linger time.Duration) []*pending {
	want = min(max(want, 1), l.maxBatch)
	var deadline time.Time
	for {
		l.drain(&batch)
		if len(batch) >= want || len(batch) == 0 {
			// Enough, or nobody waits for this batch: awaitWaiter
			// gathers events that nobody waits for without spinning.
			return batch
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(linger)
		}
		if !now.Before(deadline) {
			return batch
		}
		runtime.Gosched()
	}
}

// maxAsyncDelay is how long events queued by AppendAsync alone may wait
// for an event whose caller waits (see awaitWaiter). Every commit costs a
// few hundred µs of CPU whatever its size (transaction, WAL frames, fsync):
// under audit.durability async, where nobody waits, 10 ms gathers about
// four times the events of 2 ms into one commit, and saves about 3 µs of
// CPU per event (BenchmarkLogAppendAsyncPaced).
const maxAsyncDelay = 10 * time.Millisecond

// awaitWaiter holds a batch without an event that somebody waits for
// (AppendAsync events only, collected apart) until such an event is
// queued, or a batch's worth is collected, or maxAsyncDelay has passed,
// or the Log is closing, so that they share one commit. A client making
// calls one after another otherwise waits for two commits per call: the
// previous call's execution event, just collected, and then its own
// request event.
func (l *Log) awaitWaiter(batch []*pending, timer *time.Timer) []*pending {
	if len(batch) > 0 {
		return batch
	}
	timer.Reset(maxAsyncDelay)
	defer timer.Stop()
	for len(batch)+l.asyncLen() < l.maxBatch && !l.flushNow.Load() {
		select {
		case p, ok := <-l.queue:
			if !ok {
				return batch // closing: Close waits for this batch
			}
			batch = append(batch, p)
			l.drain(&batch)
			return batch // p's caller waits
		case <-l.kick:
			// More collected: look at the count again.
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// drain adds queued events to batch without blocking, up to MaxBatch.
func (l *Log) drain(batch *[]*pending) {
	for len(*batch) < l.maxBatch {
		select {
		case p, ok := <-l.queue:
			if !ok {
				return
			}
			*batch = append(*batch, p)
		default:
			return
		}
	}
}

// flush appends one batch and wakes its callers. A batch holding
// journaled events also records the journal mark; if it fails, those
// events are put back for the next batch (unless closing: they stay in
// the journal for the next start to replay), so that the mark never
// passes an event the store does not hold.
func (l *Log) flush(batch []*pending, events []*qgate.AuditEvent, closing bool) {
	var mark int64
	for _, p := range batch {
		events = append(events, &p.e)
		mark = max(mark, p.jseq)
	}
	// The batch serves many callers, so no one caller's context may cancel
	// it; each caller's own wait is bounded by its context instead.
	var err error
	if mark > 0 {
		err = l.jstore.AppendAuditMarked(context.Background(), events, mark)
	} else {
		err = l.store.AppendAudit(context.Background(), events)
	}
	l.failing.Store(err != nil)
	if err != nil {
		l.failed.Add(int64(len(batch)))
		l.logger.Error("audit append failed", "events", len(batch), "err", err)
	} else {
		l.batches.Add(1)
		l.events.Add(int64(len(batch)))
		if mark > 0 {
			l.markApplied(mark)
		}
	}
	var retry []*pending
	for _, p := range batch {
		switch {
		case p.done != nil:
			p.done(&p.e, err)
		case p.res != nil:
			p.res <- result{e: p.e, err: err}
		case p.jseq > 0 && err != nil && !closing:
			retry = append(retry, p)
		}
	}
	if len(retry) > 0 {
		// Before anything collected since: they were journaled first.
		l.amu.Lock()
		l.async = append(retry, l.async...)
		l.amu.Unlock()
		// Nobody else may come to wake the writer: retry on its own,
		// less often while the store keeps failing.
		l.retry = min(max(2*l.retry, maxAsyncDelay), maxRetryDelay)
		time.AfterFunc(l.retry, l.wake)
	} else if err == nil {
		l.retry = 0
	}
	clear(events)
}

// maxRetryDelay bounds the wait between retries of journaled events
// whose batch failed.
const maxRetryDelay = time.Second

// appendJournaled queues e for the journal and waits until it is in the
// journal, or, if the journal could not take it, until the store
// committed it. When nobody is writing to the journal, the caller writes
// its own event at once, without waking another goroutine (the common
// case at light load); the events queued meanwhile are left to the
// journal goroutine, so that no caller writes for others for long.
func (l *Log) appendJournaled(ctx context.Context, e *qgate.AuditEvent) error {
	// p.res is cleared once it is answered: wait on a copy.
	res := make(chan result, 1)
	p, err := newPending(e, res)
	if err != nil {
		return err
	}
	if p.e.Time.IsZero() {
		// Stamped now, not when the store gets it: a replay after a
		// crash must store the time the call was made.
		p.e.Time = time.Now()
	}
	l.mu.RLock() // Close waits for a caller writing to the journal
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	l.jmu.Lock()
	l.jqueue = append(l.jqueue, p)
	lead := !l.jleading
	l.jleading = true
	l.jmu.Unlock()
	if lead {
		l.leadJournal(true)
	}
	l.mu.RUnlock()
	return await(ctx, res, e)
}

// leadJournal writes the queued events to the journal, one record per
// batch, until the queue is empty; the caller holds the lead (jleading),
// which leadJournal gives up. A caller writing inline writes one batch
// and hands the rest to the journal goroutine.
func (l *Log) leadJournal(inline bool) {
	for {
		l.jmu.Lock()
		n := min(len(l.jqueue), l.maxBatch)
		if n == 0 {
			l.jleading = false
			l.jmu.Unlock()
			return
		}
		batch := append(l.jbatch[:0], l.jqueue[:n]...)
		rest := copy(l.jqueue, l.jqueue[n:])
		clear(l.jqueue[rest:])
		l.jqueue = l.jqueue[:rest]
		l.jmu.Unlock()
		l.writeJournal(batch)
		clear(batch)
		l.jbatch = batch[:0]
		if inline {
			// Those queued while this caller wrote go with the
			// journal goroutine.
			l.jmu.Lock()
			if len(l.jqueue) == 0 {
				l.jleading = false
				l.jmu.Unlock()
				return
			}
			l.jmu.Unlock()
			// The lead passes on with the kick; nobody else can send one
			// before the journal goroutine gives the lead up.
			l.jkick <- struct{}{}
			return
		}
	}
}

// runJournal is the journal goroutine: it leads the journal whenever a
// caller that wrote its own event inline hands the queue on to it.
func (l *Log) runJournal() {
	defer close(l.jdone)
	for range l.jkick {
		l.leadJournal(false)
	}
}

// writeJournal writes batch to the journal in one record, moves those
// events, in that order, to the events the writer collects (they are
// committed with its next batch, with the journal mark), and only then
// answers their callers. When the journal is full it waits until the
// store holds everything written and starts again at its beginning. If
// the journal fails, the events go to the writer's queue and their
// callers wait for the commit, as without a journal, and so does every
// AppendAllowed after. The lead (jleading) keeps one writer at a time.
func (l *Log) writeJournal(batch []*pending) {
	if l.jbroken.Load() {
		l.toQueue(batch)
		return
	}
	w := &l.jw
	w.buf, w.entries, w.ends = w.buf[:0], w.entries[:0], w.ends[:0]
	for _, p := range batch {
		w.buf = appendEntry(w.buf, &p.e)
		w.ends = append(w.ends, len(w.buf))
	}
	start := 0
	for _, end := range w.ends {
		w.entries = append(w.entries, w.buf[start:end])
		start = end
	}
	first, err := l.j.Append(w.entries)
	if errors.Is(err, journal.ErrFull) {
		if !l.awaitApplied(l.j.LastSeq()) {
			// The store fails, or the Log is closing: these callers
			// wait for the store like any other, and get its answer.
			clear(w.entries)
			l.toQueue(batch)
			return
		}
		l.j.Rewind()
		first, err = l.j.Append(w.entries)
	}
	clear(w.entries)
	if err != nil {
		if !errors.Is(err, journal.ErrTooLarge) {
			l.logger.Error("audit journal failed; allowed calls now wait for the store", "err", err)
			l.jbroken.Store(true)
		}
		if first > 0 {
			// The record may be on disk: the batch that commits these
			// events must cover them with its mark, or the next start
			// would replay them a second time.
			for i, p := range batch {
				p.jseq = first + int64(i)
			}
		}
		l.toQueue(batch)
		return
	}
	// The callers are answered here, not by the writer, which must not
	// see their channels: it may take the events at once.
	w.answer = w.answer[:0]
	for i, p := range batch {
		p.jseq = first + int64(i)
		w.answer = append(w.answer, p.res)
		p.res = nil
	}
	l.amu.Lock()
	for len(l.async) >= l.asyncMax {
		l.wake() // the writer may be idle, with events put back after a failure
		l.room.Wait()
	}
	l.async = append(l.async, batch...)
	l.amu.Unlock()
	l.wake()
	for _, res := range w.answer {
		res <- result{} // no Seq yet: the writer gives it
	}
	clear(w.answer)
}

// toQueue gives events the journal did not take to the writer's queue;
// their callers wait for the commit. The queue is still open: Close
// closes it only after the journal goroutine is done.
func (l *Log) toQueue(batch []*pending) {
	for _, p := range batch {
		l.queue <- p
	}
	clear(batch)
}

// awaitApplied waits until the store holds the journal's entries up to
// seq, kicking the writer so that it does not wait for more events, and
// reports whether it does. It gives up, false, when the store fails or
// the Log is closing: the journal must then keep what it holds.
func (l *Log) awaitApplied(seq int64) bool {
	for {
		l.appliedMu.Lock()
		ch := l.appliedCh
		l.appliedMu.Unlock()
		if l.applied.Load() >= seq {
			return true
		}
		if l.failing.Load() || l.closing.Load() {
			return false
		}
		l.flushNow.Store(true)
		l.wake()
		select {
		case <-ch:
		case <-time.After(maxAsyncDelay):
		}
	}
}

// markApplied records that the store holds the journal up to seq.
func (l *Log) markApplied(seq int64) {
	l.appliedMu.Lock()
	l.applied.Store(seq)
	close(l.appliedCh)
	l.appliedCh = make(chan struct{})
	l.appliedMu.Unlock()
}

// ReplayJournal appends to store the entries of j that it does not hold
// yet (those above its journal mark), in order, and then starts j for a
// Log: Open the journal, replay it, then pass it in LogOptions. It
// returns how many events it appended. Entries at or below the mark were
// committed before the crash, or the clean stop, that ended the last run.
func ReplayJournal(ctx context.Context, store JournalStore, j *journal.Journal) (int, error) {
	mark, err := store.AuditJournalMark(ctx)
	if err != nil {
		return 0, fmt.Errorf("replay audit journal: %w", err)
	}
	const chunk = 1024
	var events []*qgate.AuditEvent
	var last int64
	n := 0
	flush := func() error {
		if len(events) == 0 {
			return nil
		}
		if err := store.AppendAuditMarked(ctx, events, last); err != nil {
			return fmt.Errorf("replay audit journal: %w", err)
		}
		n += len(events)
		events = events[:0]
		return nil
	}
	for _, en := range j.Pending() {
		if en.Seq <= mark {
			continue
		}
		e, err := decodeEntry(en.Data)
		if err != nil {
			return n, fmt.Errorf("replay audit journal: entry %d: %w", en.Seq, err)
		}
		events = append(events, e)
		last = en.Seq
		if len(events) == chunk {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := flush(); err != nil {
		return n, err
	}
	j.Start(max(mark, last) + 1)
	return n, nil
}
