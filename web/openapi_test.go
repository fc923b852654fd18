package web_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/qgate/qgate/web"
)

// The OpenAPI document describes exactly the routes the server serves.
func TestOpenAPI_MatchesRoutes(t *testing.T) {
	raw, err := web.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	var documented, served []string
	for path, item := range doc.Paths {
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
			var o struct{ Responses map[string]any }
			if err := json.Unmarshal(op, &o); err != nil || len(o.Responses) == 0 {
				t.Errorf("%s %s has no responses", method, path)
			}
		}
	}
	for _, r := range web.Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("served but not documented: %s", s)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("documented but not served: %s", d)
		}
	}
}

// Every route is registered: a request to it never gets the mux's 404.
func TestRoutes_Registered(t *testing.T) {
	e := MustEnv(t)
	for _, r := range web.Routes() {
		if r.Path == "/api/v1/events" {
			continue // a stream; covered by TestEvents
		}
		path := strings.ReplaceAll(r.Path, "{id}", "1")
		code, body := e.Do(t, "", r.Method, path, "")
		if r.Public && code != http.StatusOK {
			t.Errorf("%s %s: public route answered %d: %s", r.Method, path, code, body)
		}
		if !r.Public && code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: got %d, want 401: %s", r.Method, path, code, body)
		}
	}
}

func TestOpenAPI_Served(t *testing.T) {
	e := MustEnv(t)
	code, body := e.Do(t, "", "GET", "/api/v1/openapi.json", "")
	want, _ := web.OpenAPI()
	if code != http.StatusOK || string(body) != string(want) {
		t.Fatalf("got %d, %d bytes", code, len(body))
	}
}
