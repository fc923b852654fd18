package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/web"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct{ id, typ, data string }

// openEvents connects to the event stream as identity and returns the
// parsed events as they arrive.
func openEvents(t *testing.T, e *Env, identity string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.HTTP.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.Token(identity))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %v", resp.StatusCode, resp.Header)
	}
	ch := make(chan sseEvent, 16)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ": ")
			switch k {
			case "id":
				ev.id = v
			case "event":
				ev.typ = v
			case "data":
				ev.data = v
			case "":
				if ev.typ != "" {
					ch <- ev
				}
				ev = sseEvent{}
			}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event stream ended")
		}
		return ev
	case <-time.After(time.Second):
		t.Fatal("no event within a second")
	}
	return sseEvent{}
}

func TestEvents(t *testing.T) {
	e := MustEnv(t)
	staff := openEvents(t, e, "alice")
	own := openEvents(t, e, "rita")

	other := e.MustReview(t, "erin")
	r := e.MustReview(t, "rita")

	ev := next(t, staff)
	var got web.Review
	if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
		t.Fatal(err)
	}
	if ev.typ != qgate.ReviewCreated || ev.id != "1" || got.ID != other.ID || !got.CanDecide || len(got.Progress) != 1 {
		t.Fatalf("got %+v: %+v", ev, got)
	}
	ev = next(t, staff)
	if ev.id != "2" || !strings.Contains(ev.data, `"requester":"rita"`) {
		t.Fatalf("second event %+v", ev)
	}

	// rita sees only her own review, and cannot decide it.
	ev = next(t, own)
	json.Unmarshal([]byte(ev.data), &got)
	if ev.typ != qgate.ReviewCreated || got.ID != r.ID || got.CanDecide || ev.id != "1" {
		t.Fatalf("rita got %+v: %+v", ev, got)
	}

	e.MustDo(t, http.StatusOK, nil, "bob", "POST", "/api/v1/reviews/2/reject", `{"comment": "no"}`)
	ev = next(t, own)
	json.Unmarshal([]byte(ev.data), &got)
	if ev.typ != qgate.ReviewDecided || got.Status != qgate.ReviewRejected || got.Reason != "rejected by bob: no" {
		t.Fatalf("rita got %+v", ev)
	}
}

func TestEvents_Heartbeat(t *testing.T) {
	e := MustEnv(t)
	e.Server.Heartbeat = 20 * time.Millisecond
	req, _ := http.NewRequest("GET", e.HTTP.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.Token("alice"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	deadline := time.AfterFunc(2*time.Second, func() { resp.Body.Close() })
	defer deadline.Stop()
	for sc.Scan() {
		if sc.Text() == ": heartbeat" {
			return
		}
	}
	t.Fatal("no heartbeat")
}

func TestEvents_ErrUnauthorized(t *testing.T) {
	e := MustEnv(t)
	e.MustProblem(t, http.StatusUnauthorized, qgate.EUNAUTHORIZED, "", "", "GET", "/api/v1/events", "")
}

// Close ends open streams, so that a server can shut down.
func TestEvents_Close(t *testing.T) {
	e := MustEnv(t)
	ch := openEvents(t, e, "alice")
	e.Server.Close()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("got an event, want the stream to end")
		}
	case <-time.After(time.Second):
		t.Fatal("the stream did not end")
	}
}

// A stream ends within a heartbeat of its token being revoked.
func TestEvents_EndsWhenTokenRevoked(t *testing.T) {
	e := MustEnv(t)
	e.Server.Heartbeat = 20 * time.Millisecond
	ch := openEvents(t, e, "alice")
	if err := e.Auth.Revoke(context.Background(), e.TokenID(t, "alice")); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("got an event, want the stream to end")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the stream outlived its token")
	}
}
