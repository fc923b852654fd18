// Command bareproxy is the baseline of scripts/bench/http.sh: a bare
// net/http/httputil.ReverseProxy with a transport tuned for one upstream
// (a large keep-alive pool, no compression, no HTTP/2 attempt), and
// nothing else: no authentication, analysis, policy or audit.
//
//	go build -o bareproxy ./scripts/bench/bareproxy
//	./bareproxy -listen 127.0.0.1:7101 -upstream http://127.0.0.1:7100
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7101", "address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:7100", "upstream base URL")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil {
		log.Fatalf("upstream: %v", err)
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		Transport: tr,
	}
	srv := &http.Server{Addr: *listen, Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Fatal(srv.ListenAndServe())
}
