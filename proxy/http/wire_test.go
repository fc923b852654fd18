package httpproxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
)

// dialProxy opens a raw TCP connection to the proxy's listener. The
// deadline only keeps a broken test from hanging; nothing asserts on time.
func dialProxy(t *testing.T, e *env) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return conn
}

// rawRequest renders an HTTP/1.1 request with e's token: extra is more
// header lines (each ending in CRLF), body goes after the blank line as is.
func rawRequest(e *env, method, path, extra, body string) string {
	return method + " " + path + " HTTP/1.1\r\nHost: qgate.test\r\nAuthorization: Bearer " + e.token + "\r\n" + extra + "\r\n" + body
}

// readResponse reads one response and its whole body from br.
func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return res, b
}

// exchange writes raw on a new connection and reads one response.
func exchange(t *testing.T, e *env, raw string) (*http.Response, []byte, *bufio.Reader) {
	t.Helper()
	conn := dialProxy(t, e)
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, b := readResponse(t, br, "")
	return res, b, br
}

// mustEOF checks that the proxy sends nothing more on the connection and
// closes it.
func mustEOF(t *testing.T, br *bufio.Reader) {
	t.Helper()
	rest, err := io.ReadAll(br)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Errorf("after the response: %v", err)
	}
	if len(rest) != 0 {
		t.Errorf("the proxy sent more after the response: %q", rest)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

func chunked(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(strconv.FormatInt(int64(len(p)), 16) + "\r\n" + p + "\r\n")
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// smuggled is a whole request hidden in a body.
const smuggled = "GET /v1/smuggled HTTP/1.1\r\nHost: upstream\r\n\r\n"

// mustNotSmuggle checks that no request for /v1/smuggled ever reached the
// upstream and that every forwarded request carried an exact length.
func mustNotSmuggle(t *testing.T, u *upstream) {
	t.Helper()
	for _, r := range u.requests() {
		if strings.Contains(r.RequestURI, "smuggled") {
			t.Errorf("a smuggled request reached the upstream: %s %s", r.Method, r.RequestURI)
		}
		if len(r.TransferEncoding) != 0 || r.Header.Get("Transfer-Encoding") != "" {
			t.Errorf("the upstream got Transfer-Encoding %v", r.TransferEncoding)
		}
		if r.ContentLength != int64(len(r.Body)) {
			t.Errorf("the upstream got Content-Length %d with %d bytes", r.ContentLength, len(r.Body))
		}
	}
}

func TestWire_ChunkedWithContentLength(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	withCL := "Content-Type: text/plain\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n"
	for _, tc := range []struct {
		name, headers, body, want string
	}{
		// The smuggled request is the chunked body's data.
		{"CLThenTE", withCL, chunked(smuggled[:20], smuggled[20:]), smuggled},
		{"TEThenCL", "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n", chunked(smuggled), smuggled},
		// A Content-Length reader would take the whole (the terminator and
		// the request after it) as the body; a chunked reader an empty body
		// followed by a second request, which must not be served.
		{"EmptyChunkedThenRequest", "Content-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len("0\r\n\r\n"+smuggled)) +
			"\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + smuggled, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.up.requests())
			res, b, br := exchange(t, e, rawRequest(e, "POST", "/v1/echo", tc.headers, tc.body))
			if res.StatusCode != 200 || string(b) != "hello from upstream" {
				t.Fatalf("got %d %s", res.StatusCode, b)
			}
			mustEOF(t, br) // RFC 9112 section 6.3: the connection is closed
			reqs := e.up.requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("upstream saw %d requests, want 1: %+v", len(reqs), reqs)
			}
			got := reqs[0]
			if got.Method != "POST" || got.RequestURI != "/v1/echo" || string(got.Body) != tc.want ||
				got.ContentLength != int64(len(tc.want)) || len(got.TransferEncoding) != 0 {
				t.Errorf("upstream got %s %s, body %q, length %d, te %v; want body %q", got.Method, got.RequestURI,
					got.Body, got.ContentLength, got.TransferEncoding, tc.want)
			}
		})
	}
	mustNotSmuggle(t, e.up)
}

func TestWire_TransferEncodingRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	body := chunked("hello")
	for _, tc := range []struct{ name, head string }{
		{"GzipChunked", "Transfer-Encoding: gzip, chunked\r\n"},
		{"ChunkedIdentity", "Transfer-Encoding: chunked, identity\r\n"},
		{"IdentityChunked", "Transfer-Encoding: identity, chunked\r\n"},
		{"XChunked", "Transfer-Encoding: xchunked\r\n"},
		{"ChunkedTwice", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"},
		{"ChunkedWithParameter", "Transfer-Encoding: chunked;q=1\r\n"},
		{"GzipChunkedWithLength", "Transfer-Encoding: gzip, chunked\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, b, _ := exchange(t, e, rawRequest(e, "POST", "/v1/echo", "Content-Type: text/plain\r\n"+tc.head, body))
			mustProblem(t, res, b, http.StatusBadRequest)
		})
	}
	t.Run("HTTP10Chunked", func(t *testing.T) {
		raw := "POST /v1/echo HTTP/1.0\r\nHost: qgate.test\r\nAuthorization: Bearer " + e.token +
			"\r\nTransfer-Encoding: chunked\r\n\r\n" + body
		res, b, _ := exchange(t, e, raw)
		mustProblem(t, res, b, http.StatusBadRequest)
	})
	if n := len(e.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests: %+v", n, e.up.requests())
	}

	// Accepted framings are forwarded with the body as read and an exact
	// length: a case variant of chunked, and identity (no coding) next to
	// a Content-Length.
	for _, tc := range []struct{ name, head, body string }{
		{"ChunkedUpperCase", "Transfer-Encoding: CHUNKED\r\n", body},
		{"IdentityWithLength", "Transfer-Encoding: identity\r\nContent-Length: 5\r\n", "hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.up.requests())
			res, b, _ := exchange(t, e, rawRequest(e, "POST", "/v1/echo", "Content-Type: text/plain\r\n"+tc.head, tc.body))
			reqs := e.up.requests()[before:]
			// Both are forwarded today (docs/http.md says so); a change of
			// fasthttp that refuses them must be a decision, not a surprise.
			if res.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200", res.StatusCode)
			}
			switch {
			case res.StatusCode >= 400:
				mustProblem(t, res, b, res.StatusCode)
				if len(reqs) != 0 {
					t.Errorf("refused, but upstream saw %+v", reqs)
				}
			case len(reqs) != 1 || string(reqs[0].Body) != "hello" || reqs[0].ContentLength != 5:
				t.Errorf("got %d; upstream saw %+v", res.StatusCode, reqs)
			}
		})
	}
	mustNotSmuggle(t, e.up)
}

func TestWire_DuplicateContentLength(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	for _, tc := range []struct{ name, head string }{
		{"TwoHeaders", "Content-Length: 5\r\nContent-Length: 11\r\n"},
		{"TwoHeadersReversed", "Content-Length: 11\r\nContent-Length: 5\r\n"},
		{"List", "Content-Length: 5, 11\r\n"},
		{"Signed", "Content-Length: +5\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, b, _ := exchange(t, e, rawRequest(e, "POST", "/v1/echo", "Content-Type: text/plain\r\n"+tc.head, "hello world"))
			mustProblem(t, res, b, http.StatusBadRequest)
		})
	}
	if n := len(e.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests: %+v", n, e.up.requests())
	}
}

func TestWire_FoldedAndBareLFHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	hdr := func(r recorded, k string) []string { return r.Header.Values(k) }
	for _, tc := range []struct {
		name string
		raw  string
		// check inspects what reached the upstream when the proxy did not
		// refuse: the headers must read the one way the proxy read them.
		check func(t *testing.T, got recorded)
		// status is what the proxy answers today: any answer is safe as
		// long as check holds, but a change must be noticed.
		status int
	}{
		{"ObsFold", rawRequest(e, "GET", "/v1/users", "X-Folded: first\r\n  second\r\n\tthird\r\nX-After: 1\r\n", ""),
			func(t *testing.T, got recorded) {
				if v := hdr(got, "X-Folded"); len(v) != 1 || v[0] != "first second third" {
					t.Errorf("X-Folded = %q, want the folded line joined with spaces", v)
				}
				if v := hdr(got, "X-After"); len(v) != 1 || v[0] != "1" {
					t.Errorf("X-After = %q", v)
				}
			}, http.StatusOK},
		{"ObsFoldHidesTransferEncoding", rawRequest(e, "POST", "/v1/echo",
			"Content-Type: text/plain\r\nX-Note: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "hello"),
			func(t *testing.T, got recorded) {
				if string(got.Body) != "hello" || got.ContentLength != 5 {
					t.Errorf("body %q length %d, want the 5 bytes of Content-Length", got.Body, got.ContentLength)
				}
				if v := hdr(got, "X-Note"); len(v) != 1 || v[0] != "a Transfer-Encoding: chunked" {
					t.Errorf("X-Note = %q", v)
				}
			}, http.StatusOK},
		{"ObsFoldedTransferEncoding", rawRequest(e, "POST", "/v1/echo",
			"Content-Type: text/plain\r\nContent-Length: 3\r\nTransfer-Encoding:\r\n chunked\r\n", chunked("hello")),
			func(t *testing.T, got recorded) {
				if string(got.Body) != "hello" || got.ContentLength != 5 {
					t.Errorf("body %q length %d, want the de-chunked hello", got.Body, got.ContentLength)
				}
			}, http.StatusOK},
		{"BareLFBetweenHeaders", rawRequest(e, "GET", "/v1/users", "X-A: 1\nX-B: 2\r\n", ""),
			func(t *testing.T, got recorded) {
				if a, b := hdr(got, "X-A"), hdr(got, "X-B"); len(a) != 1 || a[0] != "1" || len(b) != 1 || b[0] != "2" {
					t.Errorf("X-A = %q, X-B = %q, want two headers", a, b)
				}
			}, http.StatusOK},
		{"BareLFHidesTransferEncoding", rawRequest(e, "POST", "/v1/echo",
			"Content-Type: text/plain\r\nX-A: 1\nTransfer-Encoding: chunked\r\nContent-Length: "+strconv.Itoa(len(chunked("hello")))+"\r\n",
			chunked("hello")),
			func(t *testing.T, got recorded) {
				if string(got.Body) != "hello" && string(got.Body) != chunked("hello") {
					t.Errorf("body %q", got.Body)
				}
			}, http.StatusOK},
		{"BareLFRequestLine", "GET /v1/users HTTP/1.1\nHost: qgate.test\r\nAuthorization: Bearer " + e.token + "\r\nX-A: 1\r\n\r\n",
			func(t *testing.T, got recorded) {
				if got.RequestURI != "/v1/users" || got.Header.Get("X-A") != "1" {
					t.Errorf("upstream got %s %v", got.RequestURI, got.Header)
				}
			}, http.StatusOK},
		{"BareLFChunks", rawRequest(e, "POST", "/v1/echo", "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n", "5\nhello\n0\n\n"),
			func(t *testing.T, got recorded) {
				if string(got.Body) != "hello" || got.ContentLength != 5 {
					t.Errorf("body %q length %d", got.Body, got.ContentLength)
				}
			}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.up.requests())
			conn := dialProxy(t, e)
			io.WriteString(conn, tc.raw)
			br := bufio.NewReader(conn)
			res, b := readResponse(t, br, "")
			reqs := e.up.requests()[before:]
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			if res.StatusCode >= 400 {
				mustProblem(t, res, b, res.StatusCode)
				if len(reqs) != 0 {
					t.Errorf("refused with %d, but the upstream saw %+v", res.StatusCode, reqs)
				}
				return
			}
			if res.StatusCode != 200 || len(reqs) != 1 {
				t.Fatalf("got %d %s; upstream saw %d requests", res.StatusCode, b, len(reqs))
			}
			for k, vv := range reqs[0].Header {
				for _, v := range vv {
					if strings.ContainsAny(k+v, "\r\n") {
						t.Errorf("upstream header %q: %q", k, v)
					}
				}
			}
			tc.check(t, reqs[0])
		})
	}

	// A request with bare LF line endings only: the head never ends in
	// CRLFCRLF. Whatever the proxy makes of it, it must not be forwarded
	// as anything but what it is, and never answered with success.
	t.Run("BareLFOnly", func(t *testing.T) {
		before := len(e.up.requests())
		conn := dialProxy(t, e)
		io.WriteString(conn, "GET /v1/users HTTP/1.1\nHost: qgate.test\nAuthorization: Bearer "+e.token+"\n\n")
		conn.(*net.TCPConn).CloseWrite()
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 {
				mustProblem(t, res, b, res.StatusCode)
			}
		}
		reqs := e.up.requests()[before:]
		if len(reqs) > 1 || (len(reqs) == 1 && reqs[0].RequestURI != "/v1/users") {
			t.Errorf("upstream saw %+v", reqs)
		}
		if len(reqs) == 0 && err == nil && res.StatusCode < 400 {
			t.Errorf("answered %d without forwarding", res.StatusCode)
		}
	})
	mustNotSmuggle(t, e.up)
}

func TestWire_HeadersTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	big := "X-Big: " + strings.Repeat("a", 40<<10) + "\r\n"
	res, b, _ := exchange(t, e, rawRequest(e, "GET", "/v1/users", big, ""))
	p := mustProblem(t, res, b, http.StatusRequestHeaderFieldsTooLarge)
	if p.Type != "https://qgate.dev/problems/headers-too-large" {
		t.Errorf("problem = %+v", p)
	}
	// Many headers adding up to more than 32 KiB.
	var many strings.Builder
	for i := range 2000 {
		many.WriteString("X-H" + strconv.Itoa(i) + ": " + strings.Repeat("b", 20) + "\r\n")
	}
	res, b, _ = exchange(t, e, rawRequest(e, "GET", "/v1/users", many.String(), ""))
	mustProblem(t, res, b, http.StatusRequestHeaderFieldsTooLarge)
	if n := len(e.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}

func TestWire_UnreadableRequestsDoNotLogTheToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	for _, raw := range []string{
		rawRequest(e, "POST", "/v1/echo", "Transfer-Encoding: gzip, chunked\r\n", chunked("hello")),
		rawRequest(e, "POST", "/v1/echo", "Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"),
		rawRequest(e, "GET", "/v1/users", "X-Big: "+strings.Repeat("a", 40<<10)+"\r\n", ""),
		rawRequest(e, "GET", "/v1/users", "Bad Header\r\n", ""),
	} {
		res, b, _ := exchange(t, e, raw)
		if res.StatusCode < 400 {
			t.Fatalf("got %d %s", res.StatusCode, b)
		}
	}
	// The 4xx is written after the line about the unreadable request is
	// logged, so the logs are complete here.
	if logs := e.logs.String(); strings.Contains(logs, e.token) {
		i := strings.Index(logs, e.token)
		t.Errorf("the logs hold the client's token (doc.go: never tokens or Authorization values):\n...%s...", logs[max(0, i-300):i])
	}
}

func TestWire_HeldCallClientHalfCloses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil, func(tg *qgate.Target) { tg.Hold = time.Minute })
	conn := dialProxy(t, e)
	io.WriteString(conn, rawRequest(e, "DELETE", "/v1/users/42", "", ""))
	rv := e.pendingReview()
	conn.(*net.TCPConn).CloseWrite() // seen as the client leaving
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	got, gerr := e.reviews.Get(ctx, rv.ID)
	if gerr != nil {
		t.Fatal(gerr)
	}
	if got.Status != qgate.ReviewCancelled || got.Reason != "client disconnected" {
		t.Fatalf("review = %s %q, want cancelled", got.Status, got.Reason)
	}
	if err == nil {
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode < 300 {
			t.Errorf("the withdrawn call was answered %d %q; the client can only take it for success", res.StatusCode, b)
		}
	}
	if n := len(e.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}

func TestWire_GarbageRequestLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	for _, raw := range []string{
		"GARBAGE\r\n\r\n",
		"\x00\x01\x02\x03\x04\r\n\r\n",
		"GET\r\nHost: qgate.test\r\n\r\n",
		"GET /v1/users\r\nHost: qgate.test\r\n\r\n",
		"GET /v1/users HTTP/1.1 extra\r\nHost: qgate.test\r\n\r\n",
		"G\x7fT /v1/users HTTP/1.1\r\nHost: qgate.test\r\n\r\n",
	} {
		t.Run(strconv.Quote(raw), func(t *testing.T) {
			res, b, _ := exchange(t, e, raw)
			mustProblem(t, res, b, http.StatusBadRequest)
		})
	}
	if n := len(e.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}

func TestWire_Pipelining(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Method+" "+r.URL.Path) // the body was read (and recorded) already
	})
	e := newEnv(t, up, nil)
	conn := dialProxy(t, e)
	raw := rawRequest(e, "GET", "/v1/one", "", "") +
		rawRequest(e, "GET", "/v1/two", "", "") +
		rawRequest(e, "POST", "/v1/echo", "Content-Type: text/plain\r\nContent-Length: 5\r\n", "hello") +
		rawRequest(e, "PUT", "/v1/echo/chunked", "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n", chunked("wor", "ld")) +
		rawRequest(e, "HEAD", "/v1/three", "", "") +
		rawRequest(e, "GET", "/v1/four", "", "")
	if _, err := io.WriteString(conn, raw); err != nil { // one write
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	want := []struct{ method, path, body string }{
		{"GET", "/v1/one", ""}, {"GET", "/v1/two", ""}, {"POST", "/v1/echo", "hello"},
		{"PUT", "/v1/echo/chunked", "world"}, {"HEAD", "/v1/three", ""}, {"GET", "/v1/four", ""},
	}
	for _, w := range want {
		res, b := readResponse(t, br, w.method)
		wantBody := w.method + " " + w.path
		if w.method == "HEAD" {
			wantBody = ""
		}
		if res.StatusCode != 200 || string(b) != wantBody {
			t.Fatalf("%s %s: got %d %q, want %q", w.method, w.path, res.StatusCode, b, wantBody)
		}
	}
	reqs := up.requests()
	if len(reqs) != len(want) {
		t.Fatalf("upstream saw %d requests, want %d", len(reqs), len(want))
	}
	for i, w := range want {
		if got := reqs[i]; got.Method != w.method || got.RequestURI != w.path || string(got.Body) != w.body || got.ContentLength != int64(len(w.body)) {
			t.Errorf("upstream request %d: %s %s body %q length %d, want %s %s %q", i, got.Method, got.RequestURI, got.Body, got.ContentLength, w.method, w.path, w.body)
		}
	}
}

func TestWire_HeldCallOverTLSClientLeaves(t *testing.T) {
	t.Parallel()
	type leave struct {
		name string
		do   func(c *tls.Conn) error
	}
	leaves := []leave{
		// close_notify only: the TCP connection stays open, so the alert
		// record is all the proxy can see.
		{"CloseNotify", func(c *tls.Conn) error { return c.CloseWrite() }},
		// What clients do: close_notify, then the TCP close.
		{"Close", func(c *tls.Conn) error { return c.Close() }},
		// The TCP connection closes without a TLS alert (a client killed).
		{"TCPCloseOnly", func(c *tls.Conn) error { return c.NetConn().Close() }},
	}
	for _, version := range []struct {
		name string
		max  uint16
	}{{"TLS12", tls.VersionTLS12}, {"TLS13", tls.VersionTLS13}} {
		for _, l := range leaves {
			t.Run(version.name+"/"+l.name, func(t *testing.T) {
				t.Parallel()
				heldOverTLSClientLeaves(t, version.max, l.do)
			})
		}
	}
}

// heldOverTLSClientLeaves holds a call made over the TLS listener (TLS
// version at most maxVersion), has the client leave, and checks that the
// review is cancelled as "client disconnected" and nothing is forwarded.
func heldOverTLSClientLeaves(t *testing.T, maxVersion uint16, leave func(*tls.Conn) error) {
	certFile, keyFile := writeCert(t)
	e := newEnv(t, nil, func(tg *qgate.Target) {
		tg.TLS = &qgate.TLSFiles{Cert: certFile, Key: keyFile}
		tg.Hold = time.Minute // a departure that is missed leaves the review pending
	})
	cfg, err := e.proxy.ListenerTLS()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pem)
	srv := serveProxy(t, e.proxy, cfg, pool)
	defer srv.Close()

	conn, err := tls.Dial("tcp", strings.TrimPrefix(srv.URL, "https://"), &tls.Config{RootCAs: pool, MaxVersion: maxVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if v := conn.ConnectionState().Version; v != maxVersion {
		t.Fatalf("negotiated TLS version %x, want %x", v, maxVersion)
	}
	if _, err := io.WriteString(conn, rawRequest(e, "DELETE", "/v1/users/42", "", "")); err != nil {
		t.Fatal(err)
	}
	rv := e.pendingReview()
	if err := leave(conn); err != nil {
		t.Fatal(err)
	}
	// The hold is a minute: a review still pending after 10s was missed.
	e.awaitClientLeft(rv.ID, 10*time.Second)
	if n := len(e.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}

// TestWire_UpstreamTarget: whatever request target and Host the client
// sends, the upstream gets the normalised path under the upstream URL's
// base path, the query exactly as sent, and the upstream's Host (or the
// configured one), never the client's.
func TestWire_UpstreamTarget(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, base, hostHeader, target string
		wantURI                        string
	}{
		{"OriginForm", "", "", "/v1/users//42/./x?b=%20&a=1+2", "/v1/users/42/x?b=%20&a=1+2"},
		{"AbsoluteForm", "", "", "http://evil.example/v1/users?x=1", "/v1/users?x=1"},
		{"AuthorityLikePath", "", "", "//evil.example/v1/users", "/evil.example/v1/users"},
		{"BasePath", "/base/", "", "/v1/users?x", "/base/v1/users?x"},
		{"ConfiguredHost", "/base", "api.internal", "/v1/users", "/base/v1/users"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t, nil)
			want := c.hostHeader // the upstream's own host unless configured
			if want == "" {
				want = strings.TrimPrefix(up.URL, "http://")
			}
			e := newEnv(t, up, func(tg *qgate.Target) {
				tg.HTTP.URL = up.URL + c.base
				if c.hostHeader != "" {
					tg.HTTP.Headers["Host"] = c.hostHeader
				}
			})
			res, b, _ := exchange(t, e, rawRequest(e, "GET", c.target, "", ""))
			if res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, b)
			}
			reqs := up.requests()
			if len(reqs) != 1 || reqs[0].RequestURI != c.wantURI || reqs[0].Host != want {
				t.Fatalf("upstream saw %+v; want %s with Host %s", reqs, c.wantURI, want)
			}
		})
	}
}
