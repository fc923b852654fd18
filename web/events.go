package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// eventBuffer is how many review events a slow stream may fall behind
// before it misses some (the review engine never blocks on a stream).
const eventBuffer = 256

// events serves GET /api/v1/events: a Server-Sent Events stream of the
// review events the caller may see, each as
//
//	id: 7
//	event: review.created
//	data: {...the review, as GET /api/v1/reviews/{id} shows it...}
//
// with ids increasing within the stream, and a comment line every
// Heartbeat, when the caller is also authenticated again: a stream does
// not outlive its token by more than a heartbeat. Events are not kept, so Last-Event-ID cannot
// resume a stream: a client that reconnects re-reads the list. The stream
// ends when the client goes away or the server closes.
func (s *Server) events(w http.ResponseWriter, r *http.Request, c *Caller) error {
	events, cancel := s.Reviews.Subscribe(eventBuffer)
	defer cancel()

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's WriteTimeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": qgate review events\nretry: 3000\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		s.logger().Error("event stream cannot flush", "err", err)
		return nil
	}

	heartbeat := s.Heartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	closing := s.closing()
	var seq int64
	for {
		var err error
		select {
		case <-r.Context().Done():
			return nil
		case <-closing:
			return nil
		case <-tick.C:
			// A token revoked or expired since the stream opened ends it.
			if _, aerr := s.caller(r); aerr != nil {
				return nil
			}
			_, err = fmt.Fprint(w, ": heartbeat\n\n")
		case ev := <-events:
			if !canSee(c, ev.Review) {
				continue
			}
			v := s.view(ev.Review, c)
			if ev.URL != "" {
				v.URL = ev.URL
			}
			data, merr := json.Marshal(v)
			if merr != nil {
				s.logger().Error("encode review event", "review", ev.Review.ID, "err", merr)
				continue
			}
			seq++
			// JSON has no raw newlines, so the data fits one data: line.
			_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, ev.Type, data)
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return nil // the client went away
		}
	}
}
