package httpproxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qgate/qgate"
)

// connUpstream is a recording upstream like newUpstream's that also
// counts the connections it accepts and tells its handler how many
// requests its connection has carried (nth, from 1) and from which peer
// address each request came.
type connUpstream struct {
	*upstream
	cmu     sync.Mutex
	conns   int            // connections accepted
	perConn map[string]int // requests seen per peer address
	addrs   []string       // peer address of each recorded request
	closes  []bool         // whether each recorded request asked to close its connection
}

func newConnUpstream(tb testing.TB, handler func(w http.ResponseWriter, r *http.Request, nth int)) *connUpstream {
	tb.Helper()
	u := &connUpstream{upstream: &upstream{}, perConn: map[string]int{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.upstream.mu.Lock()
		u.reqs = append(u.reqs, recorded{r.Method, r.RequestURI, r.Host, r.Header.Clone(), body, r.ContentLength, r.TransferEncoding})
		u.upstream.mu.Unlock()
		u.cmu.Lock()
		u.perConn[r.RemoteAddr]++
		nth := u.perConn[r.RemoteAddr]
		u.addrs = append(u.addrs, r.RemoteAddr)
		u.closes = append(u.closes, r.Close)
		u.cmu.Unlock()
		if handler != nil {
			handler(w, r, nth)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello from upstream")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.cmu.Lock()
			u.conns++
			u.cmu.Unlock()
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	u.Server = srv
	tb.Cleanup(srv.Close)
	return u
}

// newConns returns how many connections the upstream has accepted.
func (u *connUpstream) newConns() int {
	u.cmu.Lock()
	defer u.cmu.Unlock()
	return u.conns
}

// peers returns the peer address and Connection: close of each request.
func (u *connUpstream) peers() ([]string, []bool) {
	u.cmu.Lock()
	defer u.cmu.Unlock()
	return append([]string(nil), u.addrs...), append([]bool(nil), u.closes...)
}

// count returns how many recorded requests have method and request target.
func (u *upstream) count(method, uri string) int {
	n := 0
	for _, r := range u.requests() {
		if r.Method == method && r.RequestURI == uri {
			n++
		}
	}
	return n
}

// hijack takes over the upstream's connection to write raw (possibly
// nothing) and close it, without the server's own framing.
func hijack(w http.ResponseWriter, raw string) {
	conn, bw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	bw.WriteString(raw)
	bw.Flush()
	conn.Close()
}

// executions waits for the proxy's background appends and returns the
// execution events of request id rid.
func (e *env) executions(rid string) []*qgate.AuditEvent {
	e.tb.Helper()
	e.proxy.Close()
	return e.audit(qgate.AuditFilter{RequestID: rid, Type: qgate.AuditExecution})
}

// executionsEventually is executions for a call whose response may still
// be on its way when the test gets here: it waits up to 10s for the event
// (after Close, the proxy appends synchronously).
func (e *env) executionsEventually(rid string) []*qgate.AuditEvent {
	e.tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := e.executions(rid)
		if len(evs) > 0 || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUpstream_ConnectionReuse(t *testing.T) {
	t.Parallel()
	u := newConnUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		switch r.URL.Path {
		case "/v1/chunked": // unknown length: streamed to qgate and on
			io.WriteString(w, "part one,")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part two")
		case "/v1/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Length", "19")
			io.WriteString(w, "hello from upstream")
		}
	})
	e := newEnv(t, u.upstream, nil)
	type step struct {
		method, path, body string
		status             int
		want               string
	}
	steps := []step{
		{"GET", "/v1/users", "", 200, "hello from upstream"},
		{"GET", "/v1/chunked", "", 200, "part one,part two"},
		{"HEAD", "/v1/users", "", 200, ""},
		{"POST", "/v1/echo", `{"n":1}`, 200, "hello from upstream"},
		{"GET", "/v1/empty", "", 204, ""},
	}
	const rounds = 8
	for i := range rounds {
		for _, s := range steps {
			var body []byte
			if s.body != "" {
				body = []byte(s.body)
			}
			res, b := e.call(s.method, s.path, body, nil)
			if res.StatusCode != s.status || string(b) != s.want {
				t.Fatalf("round %d: %s %s: got %d %q, want %d %q", i, s.method, s.path, res.StatusCode, b, s.status, s.want)
			}
		}
	}
	if n := len(u.requests()); n != rounds*len(steps) {
		t.Errorf("upstream saw %d requests, want %d", n, rounds*len(steps))
	}
	if n := u.newConns(); n != 1 {
		t.Errorf("%d sequential calls opened %d upstream connections, want 1 pooled connection", rounds*len(steps), n)
	}
}

func TestUpstream_AbandonedResponseNotReused(t *testing.T) {
	t.Parallel()
	u := newConnUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if r.URL.Path != "/v1/endless" {
			io.WriteString(w, "hello from upstream")
			return
		}
		chunk := strings.Repeat("x", 32<<10)
		for {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	e := newEnv(t, u.upstream, nil)
	res := e.do(context.Background(), "GET", "/v1/endless", e.token, nil, nil)
	if res.StatusCode != 200 {
		t.Fatalf("got %d", res.StatusCode)
	}
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(res.Body, buf); err != nil {
		t.Fatal(err)
	}
	res.Body.Close() // the client walks away from an unfinished body
	e.srv.Client().CloseIdleConnections()

	// The unfinished upstream connection holds the rest of a body: it
	// must never answer another call.
	res2, b := e.call("GET", "/v1/users", nil, nil)
	if res2.StatusCode != 200 || string(b) != "hello from upstream" {
		t.Fatalf("the next call got %d %.60q", res2.StatusCode, b)
	}
	if n := u.newConns(); n != 2 {
		t.Errorf("upstream connections = %d, want 2 (the abandoned one is not pooled)", n)
	}
	// The client never got the whole response: not "forwarded".
	if evs := e.executionsEventually(res.Header.Get("Qgate-Request-Id")); len(evs) != 1 || evs[0].Action != "failed" {
		t.Errorf("execution events of the abandoned call = %s", dump(evs))
	}
}

func TestUpstream_Replay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ok := func(t *testing.T, res *http.Response, b []byte, want string) {
		t.Helper()
		if res.StatusCode != 200 || string(b) != want {
			t.Fatalf("got %d %q, want 200 %q", res.StatusCode, b, want)
		}
	}

	// closesIdle answers a connection's first request and then closes the
	// connection, without saying so: qgate pools a connection the upstream
	// has closed. closed is signalled once it is.
	closesIdle := func(closed chan<- struct{}) func(http.ResponseWriter, *http.Request, int) {
		return func(w http.ResponseWriter, r *http.Request, nth int) {
			if r.URL.Path == "/v1/first" {
				hijack(w, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
				closed <- struct{}{}
				return
			}
			io.WriteString(w, "hello from upstream")
		}
	}
	// afterIdleClosed makes one call through qgate and returns once the
	// upstream has closed the pooled connection that served it.
	afterIdleClosed := func(t *testing.T) (*connUpstream, *env) {
		closed := make(chan struct{}, 1)
		u := newConnUpstream(t, closesIdle(closed))
		e := newEnv(t, u.upstream, nil)
		res, b := e.call("GET", "/v1/first", nil, nil)
		ok(t, res, b, "first")
		<-closed
		return u, e
	}
	t.Run("GETAfterUpstreamClosedIdleConn", func(t *testing.T) {
		t.Parallel()
		u, e := afterIdleClosed(t)
		res, b := e.call("GET", "/v1/users", nil, nil)
		ok(t, res, b, "hello from upstream")
		if n := u.newConns(); n != 2 {
			t.Errorf("upstream connections = %d, want 2", n)
		}
	})
	t.Run("POSTAfterUpstreamClosedIdleConn", func(t *testing.T) {
		t.Parallel()
		u, e := afterIdleClosed(t)
		// The POST never reached the upstream on the closed connection, so
		// sending it on a new one sends it once (doc.go: "a pooled
		// connection the upstream has closed is noticed before use").
		res, b := e.call("POST", "/v1/echo", []byte(`{"n":1}`), nil)
		if n := u.count("POST", "/v1/echo"); n > 1 {
			t.Fatalf("upstream got the POST %d times", n)
		}
		ok(t, res, b, "hello from upstream")
		if n := u.count("POST", "/v1/echo"); n != 1 {
			t.Errorf("upstream got the POST %d times, want 1", n)
		}
	})

	// The upstream restarts (or times out its idle connections) while qgate
	// holds several idle ones: every one of them is dead.
	t.Run("GETAfterUpstreamClosedAllIdleConns", func(t *testing.T) {
		t.Parallel()
		const conns = 3
		arrived := make(chan struct{}, conns)
		release := make(chan struct{})
		u := newConnUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			if strings.HasPrefix(r.URL.Path, "/v1/busy") {
				arrived <- struct{}{}
				<-release
			}
			io.WriteString(w, "hello from upstream")
		})
		e := newEnv(t, u.upstream, nil)
		var wg sync.WaitGroup
		for i := range conns {
			wg.Go(func() {
				res := e.do(ctx, "GET", "/v1/busy/"+strconv.Itoa(i), e.token, nil, nil)
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			})
		}
		for range conns { // all in flight at once: three upstream connections
			<-arrived
		}
		close(release)
		wg.Wait()
		if n := u.newConns(); n != conns {
			t.Fatalf("upstream connections = %d, want %d", n, conns)
		}
		u.CloseClientConnections()
		res, b := e.call("GET", "/v1/users", nil, nil)
		ok(t, res, b, "hello from upstream")
	})

	// dropsReused reads a request that arrives on a reused connection and
	// closes the connection without answering (once).
	dropsReused := func() func(http.ResponseWriter, *http.Request, int) {
		var once sync.Once
		return func(w http.ResponseWriter, r *http.Request, nth int) {
			dropped := false
			if nth > 1 {
				once.Do(func() { dropped = true })
			}
			if dropped {
				hijack(w, "")
				return
			}
			io.WriteString(w, "hello from upstream")
		}
	}
	t.Run("GETOnReusedConnNoAnswer", func(t *testing.T) {
		t.Parallel()
		u := newConnUpstream(t, dropsReused())
		e := newEnv(t, u.upstream, nil)
		res, b := e.call("GET", "/v1/first", nil, nil)
		ok(t, res, b, "hello from upstream")
		res, b = e.call("GET", "/v1/users", nil, nil)
		ok(t, res, b, "hello from upstream")
		if n := u.count("GET", "/v1/users"); n != 2 {
			t.Errorf("upstream got the GET %d times, want 2 (dropped, then replayed)", n)
		}
		if n := u.newConns(); n != 2 {
			t.Errorf("upstream connections = %d, want 2", n)
		}
	})
	t.Run("POSTOnReusedConnNoAnswer", func(t *testing.T) {
		t.Parallel()
		u := newConnUpstream(t, dropsReused())
		e := newEnv(t, u.upstream, nil)
		res, b := e.call("GET", "/v1/first", nil, nil)
		ok(t, res, b, "hello from upstream")
		res, b = e.call("POST", "/v1/echo", []byte(`{"n":1}`), nil)
		p := mustProblem(t, res, b, http.StatusBadGateway)
		if n := u.count("POST", "/v1/echo"); n != 1 {
			t.Errorf("upstream got the POST %d times, want exactly 1", n)
		}
		if evs := e.executions(p.RequestID); len(evs) != 1 || evs[0].Action != "failed" {
			t.Errorf("execution events = %s", dump(evs))
		}
	})
	t.Run("IdempotencyKeyReplayed", func(t *testing.T) {
		t.Parallel()
		u := newConnUpstream(t, dropsReused())
		e := newEnv(t, u.upstream, nil)
		res, b := e.call("GET", "/v1/first", nil, nil)
		ok(t, res, b, "hello from upstream")
		res, b = e.call("POST", "/v1/echo", []byte(`{"n":1}`), http.Header{"Idempotency-Key": {"k-1"}})
		ok(t, res, b, "hello from upstream")
		if n := u.count("POST", "/v1/echo"); n != 2 {
			t.Errorf("upstream got the POST %d times, want 2 (dropped, then replayed)", n)
		}
	})

	// An approved review: a connection of its own, Connection: close,
	// and never twice, even with an Idempotency-Key that would make it
	// replayable on a pooled connection.
	approved := func(t *testing.T, drop bool) (*env, *connUpstream, reply) {
		u := newConnUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			if r.Method == "DELETE" && drop {
				hijack(w, "")
				return
			}
			io.WriteString(w, "hello from upstream")
		})
		e := newEnv(t, u.upstream, nil)
		res, b := e.call("GET", "/v1/warm", nil, nil) // leaves an idle pooled connection
		ok(t, res, b, "hello from upstream")
		ch := e.callAsync(ctx, "DELETE", "/v1/users/42", nil, http.Header{"Idempotency-Key": {"k-2"}})
		rv := e.pendingReview()
		if _, err := e.reviews.Approve(ctx, rv.ID, e.voter("alice"), "ok", 0); err != nil {
			t.Fatal(err)
		}
		r := wait(t, ch)
		if n := u.count("DELETE", "/v1/users/42"); n != 1 {
			t.Fatalf("upstream got the approved DELETE %d times, want exactly 1", n)
		}
		addrs, closes := u.peers()
		if len(addrs) != 2 || addrs[1] == addrs[0] {
			t.Errorf("the approved call used the pooled connection: peers %v", addrs)
		}
		if len(closes) != 2 || !closes[1] {
			t.Errorf("the approved call did not ask for Connection: close: %v", closes)
		}
		if n := u.newConns(); n != 2 {
			t.Errorf("upstream connections = %d, want 2", n)
		}
		return e, u, r
	}
	t.Run("ApprovedReviewOwnConnection", func(t *testing.T) {
		t.Parallel()
		_, _, r := approved(t, false)
		ok(t, r.res, r.body, "hello from upstream")
	})
	t.Run("ApprovedReviewNeverTwice", func(t *testing.T) {
		t.Parallel()
		e, _, r := approved(t, true)
		p := mustProblem(t, r.res, r.body, http.StatusBadGateway)
		if p.ReviewID == 0 {
			t.Errorf("problem = %+v", p)
		}
		if evs := e.executions(p.RequestID); len(evs) != 1 || evs[0].Action != "failed" || evs[0].ReviewID != p.ReviewID {
			t.Errorf("execution events = %s", dump(evs))
		}
	})
}

func TestUpstream_TruncatedBody(t *testing.T) {
	t.Parallel()
	half := strings.Repeat("a", 100_000)
	for _, tc := range []struct{ name, raw string }{
		// Half of the declared Content-Length, then the connection closes.
		{"ContentLengthHalf", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 200000\r\n\r\n" + half},
		// In the middle of a chunk's data.
		{"MidChunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n" +
			strconv.FormatInt(200_000, 16) + "\r\n" + half},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { hijack(w, tc.raw) })
			e := newEnv(t, up, nil)
			res := e.do(context.Background(), "GET", "/v1/users", e.token, nil, nil)
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil {
				t.Fatalf("a body that broke off after %d bytes read as complete (status %d, length %d)", len(b), res.StatusCode, res.ContentLength)
			}
			if len(b) >= 200_000 {
				t.Errorf("client read %d bytes", len(b))
			}
			evs := e.executions(res.Header.Get("Qgate-Request-Id"))
			if len(evs) != 1 || evs[0].Action != "failed" || !strings.Contains(string(evs[0].Data), "broke off") {
				t.Errorf("execution events = %s", dump(evs))
			}
		})
	}
}

// TestUpstream_SmallTruncatedBody: a small body of known length is read
// whole before anything goes to the client, so when the upstream breaks
// off within it the client gets a 502, not a short 200.
func TestUpstream_SmallTruncatedBody(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		hijack(w, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nonly ten b")
	})
	e := newEnv(t, up, nil)
	res, b := e.call("GET", "/v1/users", nil, nil)
	p := mustProblem(t, res, b, http.StatusBadGateway)
	if p.ErrorID == "" || strings.Contains(string(b), "only ten") {
		t.Errorf("problem = %s", b)
	}
	evs := e.executions(res.Header.Get("Qgate-Request-Id"))
	if len(evs) != 1 || evs[0].Action != "failed" || !strings.Contains(string(evs[0].Data), "broke off") {
		t.Errorf("execution events = %s", dump(evs))
	}
}

// TestUpstream_BodySizes: bodies of known length below, at and above the
// size read whole (16 KiB) reach the client byte for byte, with their
// length, on one pooled connection, and each execution event counts the
// bytes passed on.
func TestUpstream_BodySizes(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 1, 16<<10 - 1, 16 << 10, 16<<10 + 1, 200_000}
	u := newConnUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		body := make([]byte, n)
		for i := range body {
			body[i] = byte('a' + i%26)
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(body)
	})
	e := newEnv(t, u.upstream, nil)
	var ids []string
	for _, n := range sizes {
		res, b := e.call("GET", "/v1/blob?n="+strconv.Itoa(n), nil, nil)
		if res.StatusCode != 200 || len(b) != n || res.ContentLength != int64(n) {
			t.Fatalf("%d bytes: status %d, read %d, Content-Length %d", n, res.StatusCode, len(b), res.ContentLength)
		}
		for i, c := range b {
			if c != byte('a'+i%26) {
				t.Fatalf("%d bytes: byte %d is %q", n, i, c)
			}
		}
		ids = append(ids, res.Header.Get("Qgate-Request-Id"))
	}
	if n := u.newConns(); n != 1 {
		t.Errorf("%d calls opened %d upstream connections, want 1", len(sizes), n)
	}
	e.proxy.Close()
	for i, id := range ids {
		evs := e.audit(qgate.AuditFilter{RequestID: id, Type: qgate.AuditExecution})
		var d struct{ Bytes int }
		if len(evs) == 1 {
			json.Unmarshal(evs[0].Data, &d)
		}
		if len(evs) != 1 || evs[0].Action != "forwarded" || d.Bytes != sizes[i] {
			t.Errorf("%d bytes: execution events = %s", sizes[i], dump(evs))
		}
	}
}

func TestUpstream_HeadContentLength(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", "1234")
		w.Header().Set("X-Head", "yes")
		if r.Method != "HEAD" {
			io.WriteString(w, strings.Repeat("z", 1234))
		}
	})
	e := newEnv(t, up, nil)

	res, b := e.call("HEAD", "/v1/file", nil, nil)
	if res.StatusCode != 200 || len(b) != 0 || res.Header.Get("X-Head") != "yes" {
		t.Fatalf("HEAD: got %d %q %v", res.StatusCode, b, res.Header)
	}
	if res.ContentLength != 1234 || res.Header.Get("Content-Length") != "1234" {
		t.Errorf("HEAD: Content-Length %d (header %q), want the upstream's 1234", res.ContentLength, res.Header.Get("Content-Length"))
	}
	if got := last(up); got.Method != "HEAD" {
		t.Errorf("upstream got %s", got.Method)
	}

	// On the wire: the HEAD answer has the length and no body, so the GET
	// pipelined behind it is answered in step.
	conn := dialProxy(t, e)
	io.WriteString(conn, rawRequest(e, "HEAD", "/v1/file", "", "")+rawRequest(e, "GET", "/v1/file", "", ""))
	br := bufio.NewReader(conn)
	head, _ := readResponse(t, br, "HEAD")
	if head.StatusCode != 200 || head.Header.Get("Content-Length") != "1234" {
		t.Errorf("raw HEAD: %d, Content-Length %q", head.StatusCode, head.Header.Get("Content-Length"))
	}
	get, body := readResponse(t, br, "GET")
	if get.StatusCode != 200 || len(body) != 1234 || get.Header.Get("X-Head") != "yes" {
		t.Errorf("GET after HEAD: %d, %d bytes", get.StatusCode, len(body))
	}
}

func TestUpstream_InformationalResponses(t *testing.T) {
	t.Parallel()
	t.Run("Raw", func(t *testing.T) {
		t.Parallel()
		up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			hijack(w, "HTTP/1.1 100 Continue\r\nX-Interim: 100\r\n\r\n"+
				"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nX-Interim: 103\r\n\r\n"+
				"HTTP/1.1 103 Early Hints\r\nLink: </app.js>; rel=preload\r\n\r\n"+
				"HTTP/1.1 201 Created\r\nX-Final: yes\r\nContent-Length: 5\r\n\r\nfinal")
		})
		e := newEnv(t, up, nil)
		conn := dialProxy(t, e)
		io.WriteString(conn, rawRequest(e, "GET", "/v1/hints", "", ""))
		br := bufio.NewReader(conn)
		res, body := readResponse(t, br, "GET")
		if res.StatusCode != http.StatusCreated || string(body) != "final" || res.Header.Get("X-Final") != "yes" {
			t.Fatalf("got %d %q %v, want the final 201", res.StatusCode, body, res.Header)
		}
		if v := res.Header.Values("X-Interim"); len(v) != 0 {
			t.Errorf("an informational response's headers leaked into the final one: X-Interim %v", v)
		}
	})
	t.Run("EarlyHintsThenReuse", func(t *testing.T) {
		t.Parallel()
		u := newConnUpstream(t, func(w http.ResponseWriter, r *http.Request, nth int) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.Header().Set("X-Final", strconv.Itoa(nth))
			io.WriteString(w, "final "+r.URL.Path)
		})
		e := newEnv(t, u.upstream, nil)
		for i, path := range []string{"/v1/a", "/v1/b", "/v1/c"} {
			res, b := e.call("GET", path, nil, nil)
			if res.StatusCode != 200 || string(b) != "final "+path || res.Header.Get("X-Final") != strconv.Itoa(i+1) {
				t.Fatalf("%s: got %d %q %v", path, res.StatusCode, b, res.Header)
			}
			if v := res.Header.Values("Link"); len(v) != 0 {
				t.Errorf("%s: the 103's Link reached the final response: %v", path, v)
			}
		}
		if n := u.newConns(); n != 1 {
			t.Errorf("upstream connections = %d, want 1", n)
		}
	})
}
