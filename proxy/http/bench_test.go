package httpproxy_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	"github.com/qgate/qgate/auth"
)

// tunedTransport is the upstream transport of the bare reverse proxy,
// set up like qgate's own.
func tunedTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// noTouch is a token store that does not record token use, to measure
// what the per-call TouchToken write costs.
type noTouch struct{ qgate.TokenStore }

func (noTouch) TouchToken(context.Context, string, time.Time) error { return nil }

// memAudit is an audit log that keeps nothing, to measure qgate without
// the cost of durable appends.
type memAudit struct{}

func (memAudit) Append(context.Context, *qgate.AuditEvent) error { return nil }

// BenchmarkProxy compares allowed GETs through qgate (token check,
// analysis, policy, durable audit on every call) with a bare
// httputil.ReverseProxy on the same tuned transport, both in front of the
// same local upstream, over real sockets. qgate-notouch leaves out the
// token store's last-used write (auth.Verify makes it at most once a
// minute per token, so it should not matter any more); qgate-nodisk also
// replaces the audit log with one that writes nothing; qgate-async runs
// with audit.durability async, which leaves the
// CPU cost of qgate's own work. The Go client in the same process weighs
// on every variant: scripts/bench/http.sh measures with wrk instead.
//
//	go test -run '^$' -bench Proxy -benchmem ./proxy/http
func BenchmarkProxy(b *testing.B) {
	up := &upstream{Server: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello from upstream")
	}))}
	defer up.Close()

	upURL, _ := url.Parse(up.URL)
	bare := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upURL)
			pr.Out.Header.Set("X-Forwarded-For", pr.In.RemoteAddr)
		},
		Transport:     tunedTransport(),
		FlushInterval: -1,
	})
	defer bare.Close()

	quiet := func(e *env, _ *qgate.Target) { e.proxy.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) }
	noTouchAuth := func(e *env, _ *qgate.Target) {
		a := auth.New(noTouch{e.db}, e.auth.Key)
		a.Now = e.auth.Now
		e.proxy.Auth = a
	}

	noDisk := func(e *env, t *qgate.Target) {
		noTouchAuth(e, t)
		e.proxy.Audit = memAudit{}
	}

	client := &http.Client{Transport: tunedTransport()}
	run := func(b *testing.B, base, token string, parallel bool) {
		get := func() {
			req, _ := http.NewRequest("GET", base+"/v1/users/42?expand=orders", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
			}
		}
		get() // warm the connections
		b.ReportAllocs()
		b.ResetTimer()
		if !parallel {
			for b.Loop() {
				get()
			}
			return
		}
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get()
			}
		})
	}

	for _, parallel := range []bool{false, true} {
		mode := "serial"
		if parallel {
			mode = "parallel"
		}
		b.Run(mode+"/bare", func(b *testing.B) { run(b, bare.URL, "qgt_not_checked", parallel) })
		b.Run(mode+"/qgate", func(b *testing.B) {
			e := newEnv(b, up, nil, quiet)
			run(b, e.srv.URL, e.token, parallel)
		})
		b.Run(mode+"/qgate-async", func(b *testing.B) {
			var log *audit.Log
			e := newEnv(b, up, nil, quiet, func(e *env, _ *qgate.Target) {
				log = audit.NewLog(e.db, audit.LogOptions{Durability: audit.DurabilityAsync})
				e.proxy.Audit = log
			})
			b.Cleanup(func() { log.Close() })
			run(b, e.srv.URL, e.token, parallel)
		})
		b.Run(mode+"/qgate-notouch", func(b *testing.B) {
			e := newEnv(b, up, nil, quiet, noTouchAuth)
			run(b, e.srv.URL, e.token, parallel)
		})
		b.Run(mode+"/qgate-nodisk", func(b *testing.B) {
			e := newEnv(b, up, nil, quiet, noDisk)
			run(b, e.srv.URL, e.token, parallel)
		})
	}
}
