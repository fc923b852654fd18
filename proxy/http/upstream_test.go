package httpproxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server that counts the connections
// clients open to it.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &conns
}

func newTestRequest(t *testing.T, ctx context.Context, method, addr, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(strings.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	}
	return req
}

// mustGet sends a request and reads the whole response body.
func mustRoundTrip(t *testing.T, c *client, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := c.roundTrip(req.Context(), req)
	if err != nil {
		t.Fatalf("roundTrip: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res, string(b)
}

func (c *client) idleCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.idle)
}

func TestClient(t *testing.T) {
	ctx := context.Background()
	hello := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello "+r.Method)
	}

	t.Run("ReusesConnections", func(t *testing.T) {
		s, conns := countingServer(t, hello)
		c := newClient(s.Listener.Addr().String())
		defer c.closeIdle(true)
		for range 5 {
			if _, body := mustRoundTrip(t, c, newTestRequest(t, ctx, "POST", c.addr, "data")); body != "hello POST" {
				t.Fatalf("body: got %q", body)
			}
		}
		if got := conns.Load(); got != 1 {
			t.Errorf("connections: got %d, want 1", got)
		}
	})

	t.Run("UpstreamClosedIdleConnection", func(t *testing.T) {
		// A POST is never replayed, so it must not be sent on a pooled
		// connection that the upstream has closed.
		s, conns := countingServer(t, hello)
		c := newClient(s.Listener.Addr().String())
		defer c.closeIdle(true)
		mustRoundTrip(t, c, newTestRequest(t, ctx, "GET", c.addr, ""))
		s.CloseClientConnections()
		deadline := time.Now().Add(5 * time.Second)
		for {
			c.mu.Lock()
			pc := c.idle[0]
			c.mu.Unlock()
			if !alive(pc.nc) {
				break
			}
			if time.Now().After(deadline) {
				t.Skip("closed connection not visible on this platform")
			}
			time.Sleep(time.Millisecond)
		}
		if _, body := mustRoundTrip(t, c, newTestRequest(t, ctx, "POST", c.addr, "data")); body != "hello POST" {
			t.Fatalf("body: got %q", body)
		}
		if got := conns.Load(); got != 2 {
			t.Errorf("connections: got %d, want 2", got)
		}
	})

	// closesAfterFirst is an upstream that answers the first request of
	// its first connection, then reads a second request on it and closes
	// it without answering (as a server closing an idle connection at the
	// same instant); later connections are answered normally. It records
	// every request line it reads.
	closesAfterFirst := func(t *testing.T) (addr string, lines func() []string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		var mu sync.Mutex
		var seen []string
		readReq := func(br *bufio.Reader) bool {
			req, err := http.ReadRequest(br)
			if err != nil {
				return false
			}
			io.Copy(io.Discard, req.Body)
			mu.Lock()
			seen = append(seen, req.Method+" "+req.RequestURI)
			mu.Unlock()
			return true
		}
		go func() {
			for n := 0; ; n++ {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				go func(first bool) {
					defer nc.Close()
					br := bufio.NewReader(nc)
					for readReq(br) {
						if first {
							first = false
							io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
							if !readReq(br) {
								return
							}
							return // close without an answer
						}
						io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					}
				}(n == 0)
			}
		}()
		return ln.Addr().String(), func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
	}

	t.Run("ReplaysIdempotentOnRace", func(t *testing.T) {
		addr, lines := closesAfterFirst(t)
		c := newClient(addr)
		defer c.closeIdle(true)
		mustRoundTrip(t, c, newTestRequest(t, ctx, "GET", addr, ""))
		if _, body := mustRoundTrip(t, c, newTestRequest(t, ctx, "GET", addr, "")); body != "ok" {
			t.Errorf("body: got %q", body)
		}
		if got := len(lines()); got != 3 {
			t.Errorf("requests seen upstream: got %v, want 3 (the second one sent twice)", lines())
		}
	})

	t.Run("NeverReplaysPOST", func(t *testing.T) {
		addr, lines := closesAfterFirst(t)
		c := newClient(addr)
		defer c.closeIdle(true)
		mustRoundTrip(t, c, newTestRequest(t, ctx, "GET", addr, ""))
		if res, err := c.roundTrip(ctx, newTestRequest(t, ctx, "POST", addr, "data")); err == nil {
			res.Body.Close()
			t.Fatalf("roundTrip: got %d, want an error", res.StatusCode)
		}
		if got := len(lines()); got != 2 {
			t.Errorf("requests seen upstream: got %v, want 2 (the POST once)", lines())
		}
	})

	t.Run("PartialBodyClosesConnection", func(t *testing.T) {
		s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, 1<<20))
		})
		c := newClient(s.Listener.Addr().String())
		defer c.closeIdle(true)
		res, err := c.roundTrip(ctx, newTestRequest(t, ctx, "GET", c.addr, ""))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Read(make([]byte, 10))
		done := make(chan struct{})
		go func() { res.Body.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close drained the body instead of closing the connection")
		}
		if n := c.idleCount(); n != 0 {
			t.Errorf("idle connections: got %d, want 0", n)
		}
		mustRoundTrip(t, c, newTestRequest(t, ctx, "GET", c.addr, ""))
		if got := conns.Load(); got != 2 {
			t.Errorf("connections: got %d, want 2", got)
		}
	})

	t.Run("ConnectionCloseNotPooled", func(t *testing.T) {
		s, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		})
		c := newClient(s.Listener.Addr().String())
		defer c.closeIdle(true)
		if _, body := mustRoundTrip(t, c, newTestRequest(t, ctx, "GET", c.addr, "")); body != "bye" {
			t.Errorf("body: got %q", body)
		}
		if n := c.idleCount(); n != 0 {
			t.Errorf("idle connections: got %d, want 0", n)
		}
	})

	t.Run("IdleTimeout", func(t *testing.T) {
		s, conns := countingServer(t, hello)
		c := newClient(s.Listener.Addr().String())
		c.idleTimeout = time.Millisecond
		defer c.closeIdle(true)
		mustRoundTrip(t, c, newTestRequest(t, ctx, "GET", c.addr, ""))
		time.Sleep(5 * time.Millisecond)
		mustRoundTrip(t, c, newTestRequest(t, ctx, "GET", c.addr, ""))
		if got := conns.Load(); got != 2 {
			t.Errorf("connections: got %d, want 2", got)
		}
	})

	t.Run("InformationalSkipped", func(t *testing.T) {
		s, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "final")
		})
		c := newClient(s.Listener.Addr().String())
		defer c.closeIdle(true)
		res, body := mustRoundTrip(t, c, newTestRequest(t, ctx, "GET", c.addr, ""))
		if res.StatusCode != 200 || body != "final" {
			t.Errorf("got %d %q, want 200 \"final\"", res.StatusCode, body)
		}
	})

	t.Run("ContextCancelAbortsRead", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		s, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "first chunk")
			w.(http.Flusher).Flush()
			<-release
		})
		c := newClient(s.Listener.Addr().String())
		defer c.closeIdle(true)
		cctx, cancel := context.WithCancel(ctx)
		res, err := c.roundTrip(cctx, newTestRequest(t, cctx, "GET", c.addr, ""))
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { _, err := io.ReadAll(res.Body); errc <- err }()
		cancel()
		select {
		case err := <-errc:
			if err == nil {
				t.Error("read: got no error after cancel")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("read still blocked after the context ended")
		}
		res.Body.Close()
		if n := c.idleCount(); n != 0 {
			t.Errorf("idle connections: got %d, want 0", n)
		}
	})

	t.Run("ContextCancelledWhileWaiting", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		s, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { <-release })
		c := newClient(s.Listener.Addr().String())
		defer c.closeIdle(true)
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := c.roundTrip(cctx, newTestRequest(t, cctx, "GET", c.addr, ""))
		if err == nil || cctx.Err() == nil {
			t.Fatalf("roundTrip: got %v, want an error after the context ended", err)
		}
	})
}
