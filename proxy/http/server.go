package httpproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	httpanalyze "github.com/qgate/qgate/analyze/http"
	"github.com/qgate/qgate/gate"
)

// Limits of the target listener.
const (
	// readBufferSize bounds the request line plus headers (larger: 431).
	readBufferSize = 32 << 10
	// readTimeout bounds reading one whole request, body included.
	readTimeout = time.Minute
	// idleTimeout closes keep-alive connections left unused this long.
	idleTimeout = 2 * time.Minute
)

// newServer returns the listener's HTTP/1.1 server. Its parser and writer
// are fasthttp's: net/http's server costs more per call than the rest of
// a forwarded call (a goroutine reading ahead on every connection, a
// header map per request), and at loopback speeds it alone kept a proxy
// at a third of nginx's throughput. serve runs once the head (and at
// most 8 KiB of body read ahead with it) is in, and reads the rest of the
// body itself (readBody) after authentication, so that a body over the
// limit is refused and audited like any refusal.
func (p *Proxy) newServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                      p.serve,
		ErrorHandler:                 p.serveError,
		ReadBufferSize:               readBufferSize,
		ReadTimeout:                  readTimeout,
		IdleTimeout:                  idleTimeout,
		MaxRequestBodySize:           int(p.maxBody),
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		CloseOnShutdown:              true,
		// fasthttp's parse errors quote the request head, token included.
		SecureErrorLogMessage: true,
		Logger:                fasthttpLogger{p},
	}
}

// Serve answers calls on ln until Shutdown, and then returns nil. ln is
// wrapped in the listener's TLS (ListenerTLS) by the caller, when the
// target has one.
func (p *Proxy) Serve(ln net.Listener) error { return p.server.Serve(ln) }

// Shutdown stops accepting calls and waits, until ctx ends, for the calls
// in flight (held ones included) to finish. It returns ctx's error when
// it gave up waiting.
func (p *Proxy) Shutdown(ctx context.Context) error { return p.server.ShutdownWithContext(ctx) }

// serveError answers a request fasthttp could not read: a malformed
// request gets 400 (431 for oversized headers, 408 when too slow) before
// any token is looked at, so there is nothing to audit.
func (p *Proxy) serveError(ctx *fasthttp.RequestCtx, err error) {
	c := &call{p: p, fc: ctx, id: gate.NewRequestID()}
	pr := problem{Status: http.StatusBadRequest, slug: "bad-request", Title: "Bad request",
		Detail: "the request could not be read as HTTP/1.1"}
	var small *fasthttp.ErrSmallBuffer
	if errors.As(err, &small) {
		pr = problem{Status: http.StatusRequestHeaderFieldsTooLarge, slug: "headers-too-large", Title: "Request headers too large",
			Detail: fmt.Sprintf("the request line and headers exceed %d bytes", readBufferSize)}
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		pr = problem{Status: http.StatusRequestTimeout, slug: "timeout", Title: "Request timeout",
			Detail: "the request was not received in time"}
	}
	p.Logger.LogAttrs(context.Background(), slog.LevelDebug, "http request unreadable", slog.String("target", p.Target.Name),
		slog.String("request_id", c.id), slog.Any("err", err))
	ctx.Response.Reset()
	ctx.Response.Header.Set(HeaderRequestID, c.id)
	c.problem(pr, "refused")
}

// view returns the request as net/http describes it, for the analysis
// and the header rules: method, request target exactly as sent, host,
// canonical headers (fasthttp's canonical names are net/http's) and
// whether it came over TLS (r.TLS set, but empty). The peer address is
// the call's ip.
func view(ctx *fasthttp.RequestCtx) *http.Request {
	h := &ctx.Request.Header
	// Every string of the view is a piece of one string, copied once from
	// fasthttp's buffers (which it reuses after the call): the method,
	// the request target, the host, then each header's name (unless
	// common) and value.
	n := len(h.Method()) + len(h.RequestURI()) + len(h.Host())
	for k, v := range h.All() {
		if _, common := httpanalyze.CommonHeaderName(k); !common {
			n += len(k)
		}
		n += len(v)
	}
	buf := make([]byte, 0, n)
	piece := func(b []byte) string {
		start := len(buf)
		buf = append(buf, b...)
		return unsafe.String(unsafe.SliceData(buf[start:]), len(b))
	}
	r := &http.Request{
		Method:     piece(h.Method()),
		RequestURI: piece(h.RequestURI()),
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Host:   piece(h.Host()),
		Header: make(http.Header, h.Len()),
	}
	if !h.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	// One backing array for the values; a repeated name grows its own.
	vals := make([]string, 0, h.Len())
	for k, v := range h.All() {
		if string(k) == "Host" {
			continue
		}
		name, common := httpanalyze.CommonHeaderName(k)
		if !common {
			name = piece(k)
		}
		if prev, ok := r.Header[name]; ok {
			r.Header[name] = append(prev, piece(v))
			continue
		}
		vals = append(vals, piece(v))
		r.Header[name] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	path, _, _ := strings.Cut(r.RequestURI, "?")
	r.URL = &url.URL{Path: path}
	if ctx.IsTLS() {
		r.TLS = &tls.ConnectionState{} // only its presence is read (X-Forwarded-Proto)
	}
	return r
}

// fasthttpLogger sends fasthttp's own messages (connection errors) to the
// proxy's logger at debug level: they concern one client's connection.
type fasthttpLogger struct{ p *Proxy }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.p.Logger.LogAttrs(context.Background(), slog.LevelDebug, "http listener", slog.String("target", l.p.Target.Name),
		slog.String("msg", fmt.Sprintf(format, args...)))
}
