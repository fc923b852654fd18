package httpproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// client sends requests to one plain-HTTP upstream over HTTP/1.1 on pooled
// keep-alive connections, in the calling goroutine.
//
// http.Transport hands every request to two goroutines of its own per
// connection (a writer and a reader) and back, which costs more than the
// rest of a proxied call on a small machine; this client writes the
// request and reads the response where the handler runs. The wire format
// is net/http's own: http.Request.Write (what the Transport writes, with
// compression off) and http.ReadResponse.
//
// Reuse rules are the Transport's: a connection goes back to the pool only
// when the response body was read to its end and neither side asked to
// close. A pooled connection that the upstream has closed meanwhile is
// noticed before it is used (alive); if the upstream closes one in the
// instant after that, the request is sent again on a new connection only
// when it is replayable (idempotent method, or an Idempotency-Key) and no
// byte of a response had arrived, as the Transport does.
type client struct {
	addr    string // host:port
	dialer  net.Dialer
	maxIdle int
	// idleTimeout closes connections left unused this long.
	idleTimeout time.Duration

	mu     sync.Mutex
	idle   []*upConn // most recently used last
	closed bool
}

// upConn is one connection to the upstream.
type upConn struct {
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

func newClient(addr string) *client {
	return &client{
		addr:        addr,
		dialer:      net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle:     256,
		idleTimeout: 90 * time.Second,
	}
}

// errTooMany1xx is an upstream that keeps sending informational responses.
var errTooMany1xx = errors.New("upstream sent too many 1xx responses")

// roundTrip sends req and returns the response head; the body streams
// from the connection, which is pooled again when the body has been read
// to its end and closed. req must have no body or a GetBody. The response
// body must be closed. When ctx ends, the connection is shut, which ends
// a pending read or write; req's own context is not used.
func (c *client) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		pc, reused, err := c.get(ctx)
		if err != nil {
			return nil, err
		}
		res, retry, err := c.send(ctx, pc, req)
		if err == nil {
			return res, nil
		}
		pc.nc.Close()
		if !reused || !retry || attempt > 0 || ctx.Err() != nil || !replayable(req) {
			return nil, err
		}
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
	}
}

// send writes req on pc and reads the response head. retry reports that
// nothing of a response had arrived when it failed.
func (c *client) send(ctx context.Context, pc *upConn, req *http.Request) (res *http.Response, retry bool, err error) {
	// A client that goes away aborts the exchange: any blocked read or
	// write on the connection returns at once.
	stop := context.AfterFunc(ctx, func() { pc.nc.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error, retry bool) (*http.Response, bool, error) {
		stop()
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return nil, retry, err
	}
	if err := req.Write(pc.bw); err != nil {
		return fail(err, true)
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(err, true)
	}
	if _, err := pc.br.Peek(1); err != nil {
		return fail(err, true)
	}
	for n := 0; ; n++ {
		res, err = http.ReadResponse(pc.br, req)
		if err != nil {
			return fail(err, false)
		}
		// 1xx before the final response: dropped, as the Transport does
		// without a trace hook. 101 is final.
		if res.StatusCode < 100 || res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if n == 5 {
			return fail(errTooMany1xx, false)
		}
	}
	res.Body = &upBody{rc: res.Body, c: c, pc: pc, stop: stop, keep: !res.Close && !req.Close}
	return res, false, nil
}

// replayable reports whether req may be sent again after a connection
// failed before any answer: the Transport's rule.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		if _, ok := req.Header["Idempotency-Key"]; !ok {
			if _, ok := req.Header["X-Idempotency-Key"]; !ok {
				return false
			}
		}
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// get returns an idle connection that is still open, or a new one.
func (c *client) get(ctx context.Context) (pc *upConn, reused bool, err error) {
	now := time.Now()
	for {
		c.mu.Lock()
		n := len(c.idle)
		if n == 0 {
			c.mu.Unlock()
			break
		}
		pc = c.idle[n-1]
		c.idle[n-1] = nil
		c.idle = c.idle[:n-1]
		var expired []*upConn
		if now.Sub(pc.idleSince) >= c.idleTimeout {
			// The most recent one is too old: so are all the others.
			expired = append(c.idle, pc)
			c.idle = nil
		}
		c.mu.Unlock()
		if expired != nil {
			for _, e := range expired {
				e.nc.Close()
			}
			break
		}
		if alive(pc.nc) {
			return pc, true, nil
		}
		pc.nc.Close()
	}
	nc, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, false, err
	}
	return &upConn{nc: nc, br: bufio.NewReaderSize(nc, 4<<10), bw: bufio.NewWriterSize(nc, 4<<10)}, false, nil
}

// put returns a connection to the pool, or closes it when the pool is
// full or closed.
func (c *client) put(pc *upConn) {
	pc.idleSince = time.Now()
	c.mu.Lock()
	if c.closed || len(c.idle) >= c.maxIdle {
		c.mu.Unlock()
		pc.nc.Close()
		return
	}
	c.idle = append(c.idle, pc)
	c.mu.Unlock()
}

// closeIdle closes every pooled connection; with stop, connections that
// come back later are closed too.
func (c *client) closeIdle(stop bool) {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	if stop {
		c.closed = true
	}
	c.mu.Unlock()
	for _, pc := range idle {
		pc.nc.Close()
	}
}

// upBody is a response body that pools its connection once read to the
// end, and closes it otherwise.
type upBody struct {
	rc   io.ReadCloser
	c    *client
	pc   *upConn
	stop func() bool // unregisters the context hook
	keep bool        // the connection may be reused
	eof  bool
	done bool
}

func (b *upBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// Close releases the connection: to the pool when the body was read to
// its end (trailers included) and the context hook had not fired, else
// closed, without draining what is left.
func (b *upBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	if b.rc == http.NoBody {
		b.eof = true
	}
	hooked := b.stop() // false: the context ended and the deadline is set
	if !b.eof || !b.keep || !hooked {
		b.pc.nc.Close()
		b.rc.Close()
		return nil
	}
	err := b.rc.Close()
	if err != nil {
		b.pc.nc.Close()
		return err
	}
	b.c.put(b.pc)
	return nil
}
