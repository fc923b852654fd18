// Command upstream is the HTTP upstream of scripts/bench/http.sh: it
// answers every request with the same small JSON document, keeping
// connections alive, and does nothing else.
//
//	go build -o upstream ./scripts/bench/upstream && ./upstream -listen 127.0.0.1:7100
package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
	"time"
)

var body = []byte(`{"id":42,"name":"Ada Lovelace","email":"ada@example.com","orders":[1001,1002,1003]}` + "\n")

func main() {
	listen := flag.String("listen", "127.0.0.1:7100", "address to listen on")
	flag.Parse()
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr["Content-Type"] = []string{"application/json"}
		hdr["Content-Length"] = []string{length}
		w.Write(body)
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Fatal(srv.ListenAndServe())
}
