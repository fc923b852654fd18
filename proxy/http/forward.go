package httpproxy

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/qgate/qgate"
	httpanalyze "github.com/qgate/qgate/analyze/http"
	"github.com/qgate/qgate/auth"
)

// newTransport returns the upstream transport: keep-alive connections
// pooled generously (qgate sends everything of one target to one host),
// no proxy from the environment, and no compression of its own, so that
// bodies and Content-Encoding pass through untouched.
func newTransport(scheme string, files *qgate.TLSFiles) (*http.Transport, error) {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		// HTTP/2 only where ALPN can negotiate it.
		ForceAttemptHTTP2: scheme == "https",
	}
	if scheme == "http" && files != nil && (files.CA != "" || files.Cert != "" || files.InsecureSkipVerify) {
		return nil, qgate.Errorf(qgate.EINVALID, "tls settings need an https:// upstream url")
	}
	if scheme == "https" {
		cfg, err := upstreamTLS(files)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	return tr, nil
}

// onceTransport is tr without keep-alive, for approved reviews: a request
// on a fresh connection is never retried by the transport (it retries
// only on reused connections), so an approval runs upstream at most once.
func onceTransport(tr *http.Transport) *http.Transport {
	once := tr.Clone()
	once.DisableKeepAlives = true
	return once
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

// readBody reads r's whole body if it is at most max bytes. A body known
// (Content-Length) or found to be larger is reported tooLarge; only max+1
// bytes of it are ever read.
func readBody(r *http.Request, max int64) (body []byte, tooLarge bool, err error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, false, nil
	}
	if r.ContentLength > max {
		return nil, true, nil
	}
	if r.ContentLength > 0 {
		body = make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, false, err
		}
		return body, false, nil
	}
	// Chunked: read one byte more than allowed to tell "too large".
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, false, err
	}
	if n > max {
		return nil, true, nil
	}
	return buf.Bytes(), false, nil
}

// forward sends the call upstream and streams the response back.
func (c *call) forward() {
	p := c.p
	out := c.outboundRequest()
	ctx := c.r.Context()
	t0 := time.Now()
	var res *http.Response
	var err error
	switch {
	case c.approved:
		res, err = p.once.RoundTrip(out.WithContext(ctx))
	case p.client != nil:
		res, err = p.client.roundTrip(ctx, out)
	default:
		res, err = p.transport.RoundTrip(out.WithContext(ctx))
	}
	if err == nil && res.StatusCode == http.StatusSwitchingProtocols {
		res.Body.Close()
		err = errors.New("upstream switched protocols unasked")
	}
	if err != nil {
		took := time.Since(t0)
		if c.r.Context().Err() != nil {
			// The client went away; nobody is left to answer.
			c.status, c.outcome = 499, "error"
			c.auditExecution("failed", 0, took, 0, "client disconnected")
			return
		}
		c.errID = newErrorID()
		p.Logger.Error("upstream request failed", "target", p.Target.Name, "request_id", c.id, "error_id", c.errID, "err", err)
		c.auditExecution("failed", 0, took, 0, "upstream unreachable")
		c.problem(problem{Status: http.StatusBadGateway, slug: "bad-gateway", Title: "Bad gateway",
			Detail: "the upstream could not be reached or did not answer", ReviewID: c.reviewID, ErrorID: c.errID}, "error")
		return
	}
	p.Metrics.Upstream(p.Target.Name, time.Since(t0))
	n, err := c.copyResponse(res)
	took := time.Since(t0)
	c.outcome = "forwarded"
	if err != nil {
		c.auditExecution("failed", res.StatusCode, took, n, "response broke off")
		// The status line is out: abort the connection so that the client
		// does not take a truncated body for a whole one.
		panic(http.ErrAbortHandler)
	}
	c.auditExecution("forwarded", res.StatusCode, took, n, "")
}

// outboundRequest builds the upstream request: the normalised path policy
// saw, the raw query as sent, the exact body, filtered headers. It has no
// context of its own; forward gives it the client's.
func (c *call) outboundRequest() *http.Request {
	p, r := c.p, c.r
	a := c.req.HTTP
	// Opaque is written as the request target verbatim: exactly the
	// normalised path, with no re-escaping.
	u := &url.URL{Scheme: p.upstream.Scheme, Host: p.upstream.Host, Opaque: p.basePath + a.Path, RawQuery: a.RawQuery}
	out := &http.Request{
		Method:     r.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     c.outboundHeader(),
		Host:       p.upstream.Host,
	}
	if p.injectHost != "" {
		out.Host = p.injectHost
	}
	if body := c.body; len(body) > 0 {
		out.ContentLength = int64(len(body))
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return out
}

// outboundHeader copies the client's headers minus the ones qgate drops,
// then sets the forwarding headers and the configured ones.
func (c *call) outboundHeader() http.Header {
	p, in := c.p, c.r.Header
	out := make(http.Header, len(in)+len(p.inject)+5)
	for k, vv := range in {
		if p.dropHeaders[k] || isQgateHeader(k) {
			continue
		}
		out[k] = vv
	}
	for _, v := range in["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				delete(out, http.CanonicalHeaderKey(name))
			}
		}
	}
	if headerHasToken(in["Te"], "trailers") {
		out["Te"] = []string{"trailers"}
	}
	if vv, ok := out["Authorization"]; ok && (c.tokenSource == "Authorization" || looksLikeToken(vv)) {
		delete(out, "Authorization")
	}
	proto := "http"
	if c.r.TLS != nil {
		proto = "https"
	}
	// One backing array for the values qgate sets (capacity-limited
	// slices, so an append by a later user cannot spill into a neighbour).
	vals := [...]string{c.ip, c.r.Host, proto, c.id, ""}
	out["X-Forwarded-For"] = vals[0:1:1]
	out["X-Forwarded-Host"] = vals[1:2:2]
	out["X-Forwarded-Proto"] = vals[2:3:3]
	out[HeaderRequestID] = vals[3:4:4]
	if _, ok := out["User-Agent"]; !ok {
		out["User-Agent"] = vals[4:5:5] // empty: not Go's default
	}
	for _, h := range p.inject {
		out[h.name] = h.values
	}
	return out
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
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// bufPool holds copy buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyResponse writes res to the client: headers without hop-by-hop ones,
// then the body, flushed after every read when its length is unknown
// (chunked, server-sent events), then trailers.
func (c *call) copyResponse(res *http.Response) (int64, error) {
	defer res.Body.Close()
	w := c.w
	h := w.Header()
	removeHopHeaders(res.Header)
	for k, vv := range res.Header {
		h[k] = vv
	}
	h.Set(HeaderRequestID, c.id)
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	c.status = res.StatusCode

	rc := http.NewResponseController(w)
	flush := res.ContentLength < 0 || isEventStream(res.Header)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		nr, rerr := res.Body.Read(buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			if flush {
				if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
					return n, err
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, rerr
		}
	}
	res.Body.Close() // now, so that res.Trailer is filled in
	if len(res.Trailer) > 0 {
		rc.Flush() // force chunking, so the trailers can follow
		prefix := ""
		if len(res.Trailer) != announced {
			prefix = http.TrailerPrefix
		}
		for k, vv := range res.Trailer {
			h[prefix+k] = vv
		}
	}
	return n, nil
}

// removeHopHeaders deletes hop-by-hop headers and those Connection names.
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				delete(h, http.CanonicalHeaderKey(name))
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

func isEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "text/event-stream"
}
