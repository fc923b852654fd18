// Command fastproxy is a reference point of scripts/bench/http.sh
// (FAST=1): the forwarding path qgate's HTTP listener is built on, a
// fasthttp server passing every request to one upstream through a
// fasthttp.HostClient, and nothing else: no authentication, analysis,
// policy or audit. The distance between it and qgate is what qgate's own
// work costs; the distance between it and nginx is what being a Go
// proxy costs.
//
//	go build -o fastproxy ./scripts/bench/fastproxy
//	./fastproxy -listen 127.0.0.1:7102 -upstream 127.0.0.1:7100
package main

import (
	"flag"
	"log"

	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7102", "address to listen on")
	upstream := flag.String("upstream", "127.0.0.1:7100", "upstream host:port")
	flag.Parse()
	hc := &fasthttp.HostClient{Addr: *upstream, MaxConns: 1024, NoDefaultUserAgentHeader: true,
		DisablePathNormalizing: true, StreamResponseBody: true}
	srv := &fasthttp.Server{
		NoDefaultServerHeader: true, NoDefaultContentType: true,
		Handler: func(ctx *fasthttp.RequestCtx) {
			req := &ctx.Request
			req.Header.Del("Connection")
			req.Header.Set("X-Forwarded-For", ctx.RemoteIP().String())
			if err := hc.Do(req, &ctx.Response); err != nil {
				ctx.Error("bad gateway", fasthttp.StatusBadGateway)
				return
			}
			ctx.Response.Header.Del("Connection")
		},
	}
	log.Fatal(srv.ListenAndServe(*listen))
}
