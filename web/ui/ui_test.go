package ui_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/qgate/qgate/web/ui"
)

func serve(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func mustNew(t *testing.T) *ui.Handler {
	t.Helper()
	h, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAssets(t *testing.T) {
	h := mustNew(t)
	for path, ctype := range map[string]string{
		"/ui/app.js":      "text/javascript; charset=utf-8",
		"/ui/app.css":     "text/css; charset=utf-8",
		"/ui/favicon.svg": "image/svg+xml",
		"/ui/index.html":  "text/html; charset=utf-8",
	} {
		resp := serve(t, h, "GET", path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ctype || len(body) == 0 {
			t.Fatalf("%s: %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		hd := resp.Header
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Content-Security-Policy") != ui.ContentSecurityPolicy ||
			hd.Get("Cache-Control") != "no-cache" || !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(hd.Get("ETag")) {
			t.Fatalf("%s headers: %v", path, hd)
		}
		// A browser that has it revalidates and gets 304 without a body.
		again := serve(t, h, "GET", path, "If-None-Match", hd.Get("ETag"))
		if again.StatusCode != http.StatusNotModified {
			t.Fatalf("%s with its ETag: %d", path, again.StatusCode)
		}
		if changed := serve(t, h, "GET", path, "If-None-Match", `"0000"`); changed.StatusCode != http.StatusOK {
			t.Fatalf("%s with another ETag: %d", path, changed.StatusCode)
		}
	}
	for _, path := range []string{"/ui/nope.js", "/ui/", "/elsewhere"} {
		if resp := serve(t, h, "GET", path); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp := serve(t, h, "POST", "/ui/app.js"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST an asset: %d", resp.StatusCode)
	}
	// The ETag is the content's: the same bytes, the same tag.
	a, b := serve(t, h, "GET", "/ui/app.js"), serve(t, mustNew(t), "GET", "/ui/app.js")
	if a.Header.Get("ETag") != b.Header.Get("ETag") || a.Header.Get("ETag") == serve(t, h, "GET", "/ui/app.css").Header.Get("ETag") {
		t.Fatal("ETags do not follow content")
	}
}

// Every page path serves the app shell, with the security headers.
func TestPages(t *testing.T) {
	h := mustNew(t)
	shell, _ := io.ReadAll(serve(t, h, "GET", "/ui/index.html").Body)
	for _, path := range []string{"/", "/reviews/42", "/history", "/requests/0190b3f2-aaaa", "/tokens", "/policies"} {
		resp := serve(t, h, "GET", path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != string(shell) ||
			resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") ||
			resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
	if resp := serve(t, h, "HEAD", "/reviews/1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD a page: %d", resp.StatusCode)
	}
	for _, path := range []string{"/reviews/", "/reviews/1/x", "/history/x"} {
		if resp := serve(t, h, "GET", path); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	// Register adds the same routes to another mux, beside other handlers.
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h.Register(mux)
	if serve(t, mux, "GET", "/").StatusCode != http.StatusOK || serve(t, mux, "GET", "/api/v1/me").StatusCode != http.StatusTeapot {
		t.Fatal("Register does not share the mux")
	}
}

// The assets follow the rules the Content-Security-Policy and the
// product set: no inline script or style, nothing from another origin,
// no HTML built from strings, and every module import resolves.
func TestAssetRules(t *testing.T) {
	dir := "assets"
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[filepath.Base(p)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	shell := files["index.html"]
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>|<style|\sstyle=|\son[a-z]+=`).MatchString(shell) {
		t.Fatal("index.html has inline script, style or event handlers")
	}
	for _, ref := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(shell, -1) {
		if ref[1] == "#main" || ref[1] == "/" {
			continue
		}
		if name, ok := strings.CutPrefix(ref[1], "/ui/"); !ok || files[name] == "" {
			t.Fatalf("index.html refers to %s, which is not an asset", ref[1])
		}
	}
	external := regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(\s*['"]?http`)
	imports := regexp.MustCompile(`(?m)^import\s[^;]*?\sfrom\s+'([^']+)'|import\('([^']+)'\)`)
	checked := 0
	for name, src := range files {
		if m := external.FindString(src); m != "" && !strings.HasSuffix(name, ".svg") {
			t.Errorf("%s loads from another origin: %s", name, m)
		}
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s: build DOM nodes with util.h instead", name, bad)
			}
		}
		if strings.Contains(src, ".style.cssText") || strings.Contains(src, "setAttribute('style'") {
			t.Errorf("%s sets inline styles, which the CSP forbids", name)
		}
		for _, m := range imports.FindAllStringSubmatch(src, -1) {
			spec := m[1] + m[2]
			checked++
			if target, ok := strings.CutPrefix(spec, "./"); !ok || files[target] == "" {
				t.Errorf("%s imports %s, which is not an asset", name, spec)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d module imports found: the pattern no longer matches the code", checked)
	}
}
