package httpproxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	httpanalyze "github.com/qgate/qgate/analyze/http"
	"github.com/qgate/qgate/auth"
)

// Upstream connection settings.
const (
	upstreamMaxConns    = 1024
	upstreamIdleTimeout = 90 * time.Second
	upstreamDialTimeout = 10 * time.Second
	// upstreamWaitTimeout is how long a call waits for a free connection
	// when upstreamMaxConns are busy.
	upstreamWaitTimeout = 30 * time.Second
)

// newUpstreamClient returns the client of one upstream: HTTP/1.1 on pooled
// keep-alive connections (TLS when https), the request target written
// exactly as given (no path normalisation of its own), no User-Agent of
// its own, response bodies streamed. A pooled connection the upstream
// closed is found before a request is written to it (staleCheckConn) and
// the request goes to another; a request that failed once written is sent
// again only when it is replayable (retryUpstream). once (approved
// reviews) never sends anything twice and never keeps a connection.
func newUpstreamClient(addr string, tlsConfig *tls.Config, once bool) *fasthttp.HostClient {
	hc := &fasthttp.HostClient{
		Addr:                      addr,
		IsTLS:                     tlsConfig != nil,
		TLSConfig:                 tlsConfig,
		NoDefaultUserAgentHeader:  true,
		DisablePathNormalizing:    true,
		StreamResponseBody:        true,
		MaxConns:                  upstreamMaxConns,
		MaxIdleConnDuration:       upstreamIdleTimeout,
		MaxConnWaitTimeout:        upstreamWaitTimeout,
		ReadBufferSize:            readBufferSize,
		MaxIdemponentCallAttempts: upstreamMaxAttempts,
		RetryIfErr:                retryUpstream,
		// Errors must not quote requests: they carry credentials.
		SecureErrorLogMessage: true,
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			// timeout is the call's own, 0 when it has none.
			if timeout <= 0 || timeout > upstreamDialTimeout {
				timeout = upstreamDialTimeout
			}
			nc, err := (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).Dial("tcp", addr)
			if err != nil {
				return nil, err
			}
			return newStaleCheckConn(nc, tlsConfig != nil), nil
		},
	}
	if once {
		hc.MaxIdemponentCallAttempts = 1
		hc.RetryIfErr = func(*fasthttp.Request, int, error) (bool, bool) { return false, false }
	}
	return hc
}

// upstreamMaxAttempts bounds the tries of one call: every pooled
// connection found closed costs one (an upstream restart closes them all).
const upstreamMaxAttempts = 16

// errStaleConn is a pooled connection the upstream had closed, found
// before anything was written to it (staleCheckConn).
var errStaleConn = errors.New("upstream closed the pooled connection")

// retryUpstream decides whether a failed try is sent again: always when
// nothing was sent (errStaleConn); otherwise only a replayable request,
// and only after its first try (attempts counts the stale ones too).
func retryUpstream(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if errors.Is(err, errStaleConn) {
		return false, true
	}
	return false, attempts < 2 && replayable(req)
}

// replayable reports whether a request may be sent again after a pooled
// connection failed before any answer: an idempotent method, or an
// Idempotency-Key header (http.Transport's rule).
func replayable(req *fasthttp.Request) bool {
	switch string(req.Header.Method()) {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header.Peek("Idempotency-Key") != nil || req.Header.Peek("X-Idempotency-Key") != nil
}

// hopHeaders are connection-specific headers (RFC 9110 section 7.6.1)
// that a proxy never forwards, in canonical form.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// dropSet is every request header that is never copied upstream (besides
// Qgate-* and the headers Connection names): hop-by-hop headers, framing
// (qgate re-frames the body), Expect (the body is already read), the
// client's forwarding claims, the token header, and method-override
// headers unless allowed.
func dropSet(tokenHeader string, allowOverride bool) map[string]bool {
	m := map[string]bool{
		"Content-Length": true, "Expect": true, "Host": true,
		"Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Real-Ip": true,
	}
	for _, h := range hopHeaders {
		m[h] = true
	}
	if tokenHeader != "" {
		m[tokenHeader] = true
	}
	if !allowOverride {
		for _, h := range httpanalyze.MethodOverrideHeaders() {
			m[http.CanonicalHeaderKey(h)] = true
		}
	}
	return m
}

// forward sends the call upstream. The response head is set on the
// client's response here; its body streams to the client after the
// handler returns (upBody), and the execution event is appended when it
// has been passed on.
func (c *call) forward() {
	p := c.p
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	c.outboundRequest(req)
	res := fasthttp.AcquireResponse()
	hc := p.upstreamClient
	if c.approved {
		hc = p.onceClient
		req.SetConnectionClose()
	}
	t0 := time.Now()
	err := hc.Do(req, res)
	if err == nil && res.StatusCode() == http.StatusSwitchingProtocols {
		res.CloseBodyStream()
		err = errors.New("upstream switched protocols unasked")
	}
	if err != nil {
		fasthttp.ReleaseResponse(res)
		c.errID = newErrorID()
		p.Logger.Error("upstream request failed", "target", p.Target.Name, "request_id", c.id, "error_id", c.errID, "err", err)
		c.auditExecution("failed", 0, time.Since(t0), 0, "upstream unreachable")
		c.problem(problem{Status: http.StatusBadGateway, slug: "bad-gateway", Title: "Bad gateway",
			Detail: "the upstream could not be reached or did not answer", ReviewID: c.reviewID, ErrorID: c.errID}, "error")
		return
	}
	p.Metrics.Upstream(p.Target.Name, time.Since(t0))
	c.outcome = "forwarded"
	c.status = res.StatusCode()
	c.copyHead(res)
	stream := res.BodyStream()
	if stream == nil { // nothing to stream: the body, if any, is in res
		body := res.Body()
		c.fc.Response.SetBody(body)
		if c.r.Method == http.MethodHead {
			// No body, but the length a GET would have.
			if n := res.Header.ContentLength(); n >= 0 {
				c.fc.Response.Header.SetContentLength(n)
			}
		}
		c.auditExecution("forwarded", c.status, time.Since(t0), int64(len(body)), "")
		fasthttp.ReleaseResponse(res)
		return
	}
	n, events := res.Header.ContentLength(), isEventStream(res.Header.ContentType())
	if n >= 0 && n <= wholeBodyMax && !events {
		c.wholeBody(res, stream, t0)
		return
	}
	if n < 0 || events {
		// Chunked to the client, a flush after every read, and the head
		// at once: an event stream may wait long for its first event.
		n = -1
		c.fc.Response.ImmediateHeaderFlush = true
	}
	c.fc.Response.SetBodyStream(&upBody{c: c, res: res, r: stream, t0: t0}, n)
	c.streaming = true
}

// wholeBodyMax is the largest response body, by its Content-Length, that
// is read whole before the response goes out (wholeBody) instead of
// streamed: most API answers, passed on with their head in one write.
const wholeBodyMax = 16 << 10

// wholeBody passes on a small response body of known length: it reads
// it whole from the upstream into the client's response, so that the
// head and the body go out together once the handler returns. An upstream
// that breaks off within it gets the client a 502, since nothing was sent
// yet.
func (c *call) wholeBody(res *fasthttp.Response, stream io.Reader, t0 time.Time) {
	out := &c.fc.Response
	bp := wholeBodyPool.Get().(*[wholeBodyMax]byte)
	n, err := io.ReadFull(stream, bp[:res.Header.ContentLength()])
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	out.SetBody(bp[:n])
	wholeBodyPool.Put(bp)
	if rc, ok := stream.(fasthttp.ReadCloserWithError); ok {
		rc.CloseWithError(err)
	} else {
		res.CloseBodyStream()
	}
	fasthttp.ReleaseResponse(res)
	if err != nil {
		c.errID = newErrorID()
		c.p.Logger.Error("upstream response broke off", "target", c.p.Target.Name, "request_id", c.id, "error_id", c.errID, "err", err)
		c.auditExecution("failed", c.status, time.Since(t0), int64(n), "response broke off")
		out.Reset()
		out.Header.Set(HeaderRequestID, c.id)
		c.problem(problem{Status: http.StatusBadGateway, slug: "bad-gateway", Title: "Bad gateway",
			Detail: "the upstream's response broke off", ReviewID: c.reviewID, ErrorID: c.errID}, "error")
		return
	}
	c.auditExecution("forwarded", c.status, time.Since(t0), int64(n), "")
}

// wholeBodyPool holds wholeBody's read buffers.
var wholeBodyPool = sync.Pool{New: func() any { return new([wholeBodyMax]byte) }}

// outboundRequest fills req, the upstream request: the normalised path
// policy saw, the raw query as sent, the exact body, filtered headers.
func (c *call) outboundRequest(req *fasthttp.Request) {
	p, a := c.p, c.req.HTTP
	req.Header.DisableNormalizing()
	req.Header.SetNoDefaultContentType(true)
	req.Header.SetMethod(c.r.Method)
	// To a plain-HTTP upstream the request target goes in origin form
	// (path and query) with the Host header below, as it will be sent: an
	// absolute URL would be parsed and taken apart again on every call
	// (about 2 % of the CPU per call). A normalised path starts with one
	// "/"; anything else keeps the absolute form, which cannot be read as
	// an authority. fasthttp takes an https upstream's scheme from the
	// absolute form.
	uri := p.basePath + a.Path
	if p.upstreamTLS || !strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "//") {
		uri = p.upstreamBase + a.Path
	}
	if a.RawQuery != "" {
		uri += "?" + a.RawQuery
	}
	req.SetRequestURI(uri)
	req.UseHostHeader = true
	host := p.upstreamHost
	if p.injectHost != "" {
		host = p.injectHost
	}
	req.Header.SetHost(host)
	in := c.r.Header
	for k, vv := range in {
		if _, injected := p.inject[k]; injected || !c.forwards(k) {
			continue
		}
		for _, v := range vv {
			req.Header.Add(k, v)
		}
	}
	if headerHasToken(in["Te"], "trailers") {
		req.Header.Set("Te", "trailers")
	}
	proto := "http"
	if c.r.TLS != nil {
		proto = "https"
	}
	req.Header.Set("X-Forwarded-For", c.ip)
	req.Header.Set("X-Forwarded-Host", c.r.Host)
	req.Header.Set("X-Forwarded-Proto", proto)
	req.Header.Set(HeaderRequestID, c.id)
	for k, v := range p.inject {
		req.Header.Set(k, v)
	}
	if len(c.body) > 0 {
		req.SetBodyRaw(c.body)
	}
}

// copyHead sets the upstream's status and headers on the client's
// response, without hop-by-hop ones; trailers the upstream announces are
// announced too and sent after the body (upBody).
func (c *call) copyHead(res *fasthttp.Response) {
	out := &c.fc.Response.Header
	out.DisableNormalizing()
	out.SetNoDefaultContentType(true)
	out.SetStatusCode(res.StatusCode())
	var named [][]byte
	for _, v := range res.Header.PeekAll("Connection") {
		for name := range bytes.SplitSeq(v, []byte(",")) {
			if name = bytes.TrimSpace(name); len(name) > 0 {
				named = append(named, name)
			}
		}
	}
	for k, v := range res.Header.All() {
		// Content-Length is set with the body; Date by the server.
		if isHopHeader(k) || containsFold(named, k) || string(k) == "Content-Length" {
			continue
		}
		out.AddBytesKV(k, v)
	}
	for k := range res.Header.Trailers() {
		out.AddTrailerBytes(k)
	}
	out.Set(HeaderRequestID, c.id)
}

// isHopHeader reports whether a response header name is in hopHeaders.
// The upstream client normalises names ("keep-alive" arrives as
// "Keep-Alive"), so they compare exactly.
func isHopHeader(k []byte) bool {
	switch string(k) {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

func containsFold(list [][]byte, k []byte) bool {
	for _, v := range list {
		if bytes.EqualFold(v, k) {
			return true
		}
	}
	return false
}

// upBody is the upstream's response body on its way to the client: it
// counts the bytes, passes the trailers on at the end, and when fasthttp
// closes it (all written, or the client or upstream broke off) appends
// the execution event and gives the connection back.
type upBody struct {
	c      *call
	res    *fasthttp.Response
	r      io.Reader
	t0     time.Time
	n      int64
	err    error // the first read error other than EOF
	closed bool
}

func (b *upBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		// The trailers, read with the last chunk, go out after it.
		out := &b.c.fc.Response.Header
		for k := range b.res.Header.Trailers() {
			for _, v := range b.res.Header.PeekAll(string(k)) {
				out.AddBytesKV(k, v)
			}
		}
	case err != nil && b.err == nil:
		b.err = err
	}
	return n, err
}

// CloseWithError is called by fasthttp once the body is written, with the
// error that ended writing it, if any. upBody has no Close: fasthttp would
// call it first, without the error.
func (b *upBody) CloseWithError(err error) error {
	if b.closed {
		return nil
	}
	b.closed = true
	if err == nil {
		err = b.err
	}
	if rc, ok := b.r.(fasthttp.ReadCloserWithError); ok {
		rc.CloseWithError(err)
	} else {
		b.res.CloseBodyStream()
	}
	c := b.c
	took := time.Since(b.t0)
	if err != nil {
		c.auditExecution("failed", c.status, took, b.n, "response broke off")
	} else {
		c.auditExecution("forwarded", c.status, took, b.n, "")
	}
	fasthttp.ReleaseResponse(b.res)
	c.finish()
	return nil
}

// looksLikeToken reports whether an Authorization value carries a qgate
// token, which must never reach an upstream.
func looksLikeToken(vv []string) bool {
	for _, v := range vv {
		if tok, ok := bearer(v); ok && strings.HasPrefix(tok, auth.Prefix) {
			return true
		}
	}
	return false
}

// isQgateHeader reports whether a canonical header name is in qgate's own
// namespace ("Qgate-...").
func isQgateHeader(k string) bool {
	return len(k) > 6 && k[5] == '-' && strings.EqualFold(k[:5], "qgate")
}

// headerHasToken reports whether a comma-separated header holds token,
// case-insensitively.
func headerHasToken(vv []string, token string) bool {
	for _, v := range vv {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// isEventStream reports whether a Content-Type's media type is
// text/event-stream (parameters ignored, case-insensitively).
func isEventStream(ct []byte) bool {
	mt, _, _ := bytes.Cut(ct, []byte(";"))
	return bytes.EqualFold(bytes.TrimSpace(mt), []byte("text/event-stream"))
}
