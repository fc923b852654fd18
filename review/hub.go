package review

import (
	"sync"

	"github.com/qgate/qgate"
)

// hub wakes waiters of one review and streams events to subscribers.
type hub struct {
	mu       sync.Mutex
	watchers map[int64]chan struct{}
	subs     map[chan qgate.ReviewEvent]struct{}
}

func newHub() *hub {
	return &hub{watchers: map[int64]chan struct{}{}, subs: map[chan qgate.ReviewEvent]struct{}{}}
}

// watch returns a channel that is closed at the next change of review id.
func (h *hub) watch(id int64) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.watchers[id]
	if !ok {
		ch = make(chan struct{})
		h.watchers[id] = ch
	}
	return ch
}

// wake closes the watch channel of id.
func (h *hub) wake(id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.watchers[id]; ok {
		close(ch)
		delete(h.watchers, id)
	}
}

// publish wakes the review's waiters and offers ev to every subscriber.
// A subscriber that is not keeping up loses the event rather than blocking
// the review engine.
func (h *hub) publish(ev qgate.ReviewEvent) {
	h.wake(ev.Review.ID)
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (h *hub) subscribe(buf int) (<-chan qgate.ReviewEvent, func()) {
	ch := make(chan qgate.ReviewEvent, buf)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, ch)
			h.mu.Unlock()
		})
	}
}
