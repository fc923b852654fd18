// Package ui is qgate's web UI for approvers and admins: plain HTML, CSS
// and JavaScript modules embedded in the binary (no build step, no CDN,
// nothing fetched at run time), served beside the REST API.
//
// The pages are one app shell (index.html) that app.js fills in from the
// REST API with the signed-in browser's session cookie: the inbox (/), a
// review (/reviews/{id}), the history (/history), one request's story
// (/requests/{id}), tokens and identities (/tokens) and the policies with
// a "try a request" box (/policies). Assets are under /ui/.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// Prefix is where the assets are served.
const Prefix = "/ui/"

// Pages are the net/http patterns that serve the app shell.
var Pages = []string{"/{$}", "/reviews/{id}", "/history", "/requests/{id}", "/tokens", "/policies"}

// ContentSecurityPolicy is sent with every page and asset: everything
// from this origin only, no inline script or style, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the web UI. The zero value is not usable; call New.
type Handler struct {
	files map[string]*asset // by name under assets/, e.g. "app.js"
	shell *asset
	mux   *http.ServeMux // the UI alone, for ServeHTTP
}

type asset struct {
	name  string
	body  []byte
	etag  string
	ctype string
}

// contentTypes are the asset types the UI uses.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
}

// New reads the embedded assets once.
func New() (*Handler, error) {
	h := &Handler{files: map[string]*asset{}}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("ui asset %s: unknown content type", name)
		}
		sum := sha256.Sum256(body)
		h.files[name] = &asset{name: name, body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: ctype}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui assets: %w", err)
	}
	if h.shell = h.files["index.html"]; h.shell == nil {
		return nil, fmt.Errorf("ui assets: no index.html")
	}
	h.mux = http.NewServeMux()
	h.Register(h.mux)
	return h, nil
}

// Register adds the asset route (GET /ui/...) and the page routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Prefix+"{file...}", h.serveAsset)
	for _, p := range Pages {
		mux.HandleFunc("GET "+p, h.servePage)
	}
}

// ServeHTTP serves the UI alone (pages and assets), 404 for other paths.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	a := h.files[r.PathValue("file")]
	if a == nil {
		securityHeaders(w.Header())
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	h.serve(w, r, a)
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, h.shell)
}

// serve writes an asset with validation caching: browsers keep it and ask
// again with If-None-Match, so a new binary's assets are used at once.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	securityHeaders(hd)
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
}
