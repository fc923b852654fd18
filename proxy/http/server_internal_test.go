package httpproxy

import (
	"bufio"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestView: the net/http view of a request holds what the client sent
// (repeated and uncommon headers included), and keeps it after fasthttp
// reuses its buffers for the next request on the connection.
func TestView(t *testing.T) {
	raw := "PATCH /v1/items/7?x=1&y=%20 HTTP/1.1\r\n" +
		"Host: api.example\r\n" +
		"Accept: application/json\r\n" +
		"X-Trace: a\r\n" +
		"Authorization: Bearer t\r\n" +
		"X-Trace: b\r\n" +
		"X-Empty:\r\n" +
		"Content-Length: 0\r\n\r\n"
	var ctx fasthttp.RequestCtx
	if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	r := view(&ctx)

	// The next request overwrites fasthttp's buffers.
	ctx.Request.Reset()
	next := "GET /zzzzzzzzzzzzzzzzzzzzzzzzz HTTP/1.0\r\nHost: zzzzzzzzzzz\r\nAccept: zzzzzzzzzzzzzzzz\r\nX-Trace: zzzzzzz\r\n\r\n"
	if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(next))); err != nil {
		t.Fatal(err)
	}

	if r.Method != "PATCH" || r.RequestURI != "/v1/items/7?x=1&y=%20" || r.Host != "api.example" ||
		r.URL.Path != "/v1/items/7" || r.Proto != "HTTP/1.1" || r.ProtoMinor != 1 || r.TLS != nil {
		t.Errorf("view = %s %s host %q path %q %s minor %d tls %v", r.Method, r.RequestURI, r.Host, r.URL.Path, r.Proto, r.ProtoMinor, r.TLS)
	}
	want := http.Header{
		"Accept":         {"application/json"},
		"X-Trace":        {"a", "b"},
		"Authorization":  {"Bearer t"},
		"X-Empty":        {""},
		"Content-Length": {"0"},
	}
	if !reflect.DeepEqual(r.Header, want) {
		t.Errorf("headers = %v\nwant      %v", r.Header, want)
	}
	// Appending to one header's values must not change another's.
	r.Header["Accept"] = append(r.Header["Accept"], "text/plain")
	if !reflect.DeepEqual(r.Header["X-Trace"], []string{"a", "b"}) || !reflect.DeepEqual(r.Header["Authorization"], []string{"Bearer t"}) {
		t.Errorf("headers share values: %v", r.Header)
	}

	if r := view(&ctx); r.Proto != "HTTP/1.0" || r.ProtoMinor != 0 || r.Method != "GET" {
		t.Errorf("HTTP/1.0 view = %s %s minor %d", r.Method, r.Proto, r.ProtoMinor)
	}
}
