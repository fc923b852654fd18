package httpproxy_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// readLine reads one line from br, failing the test if it takes longer
// than d.
func readLine(t *testing.T, br *bufio.Reader, d time.Duration) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		s, _ := br.ReadString('\n')
		ch <- s
	}()
	select {
	case s := <-ch:
		return s
	case <-time.After(d):
		t.Fatal("no line arrived: the response is buffered")
	}
	return ""
}

func TestProxy_Streaming(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "second\n")
	})
	e := newEnv(t, up, nil)
	res := e.do(context.Background(), "GET", "/v1/stream", e.token, nil, nil)
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	if got := readLine(t, br, 5*time.Second); got != "first\n" {
		t.Fatalf("first line = %q", got)
	}
	close(release) // the upstream finishes only after the client read the first chunk
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest = %q, %v", rest, err)
	}
}

func TestProxy_ServerSentEvents(t *testing.T) {
	t.Parallel()
	next := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		for i := range 3 {
			io.WriteString(w, "data: "+string(rune('a'+i))+"\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	e := newEnv(t, up, nil)
	res := e.do(context.Background(), "GET", "/v1/events", e.token, nil, http.Header{"Accept": {"text/event-stream"}})
	defer res.Body.Close()
	if res.Header.Get("Content-Type") != "text/event-stream" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("headers = %v", res.Header)
	}
	br := bufio.NewReader(res.Body)
	for i := range 3 {
		if got, want := readLine(t, br, 5*time.Second), "data: "+string(rune('a'+i))+"\n"; got != want {
			t.Fatalf("event %d = %q, want %q", i, got, want)
		}
		readLine(t, br, 5*time.Second) // blank line
		next <- struct{}{}
	}
}

func TestProxy_Trailers(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
	})
	e := newEnv(t, up, nil)
	res := e.do(context.Background(), "GET", "/v1/trailers", e.token, nil, nil)
	b := readAll(t, res)
	if string(b) != "body" || res.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("body %q trailer %v", b, res.Trailer)
	}
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
