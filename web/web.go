// Package web is the bridge's built-in browser chat app: one HTML page, a stylesheet and
// JavaScript ES modules, with no build step, embedded in the binary and served by Handler.
//
// The page (index.html, app.js and the modules it imports) loads the bridge's snapshots, follows
// one multi-topic Server-Sent Events stream, and sends through the REST API; see app.js. Its
// connection to the bridge is client.js, a module any page can import from the bridge
// (/client.js, typed by /openapi.d.ts): it shares one stream among all the tabs of the origin.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed index.html app.css favicon.svg *.js openapi.d.ts
var files embed.FS

// contentTypes maps the extensions of the embedded files to their Content-Type. It is explicit
// rather than mime.TypeByExtension, whose answers depend on the host's MIME tables (a Windows
// registry may say text/plain for .js, which browsers refuse for modules).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".ts":   "text/plain; charset=utf-8", // openapi.d.ts: read by editors and people, never run
}

// pagePolicy is the page's Content-Security-Policy: everything from the bridge itself, nothing
// inline, nothing from elsewhere, and no framing (clickjacking).
const pagePolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	name        string
	body        []byte
	contentType string
	etag        string
}

// assets reads the embedded files once: URL path -> asset. index.html is served at "/" too.
var assets = sync.OnceValue(func() map[string]*asset {
	m := make(map[string]*asset)
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		m["/"+name] = &asset{name: name, body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("web: read the embedded files: " + err.Error()) // cannot happen with embed.FS
	}
	m["/"] = m["/index.html"]
	return m
})

// Handler returns the handler of the web app: GET and HEAD of "/" (index.html) and of each
// embedded file by its name ("/app.js", "/app.css", ...), with its Content-Type,
// Cache-Control: no-cache (the browser revalidates with the ETag, so a new binary's files are
// picked up at once) and X-Content-Type-Options: nosniff; the page also gets a strict
// Content-Security-Policy. Any other path answers 404 and any other method 405, in plain text:
// mount Handler only for the paths of the app, or as the router's fallback. Handler is safe to
// call more than once and its handler is safe for concurrent use.
func Handler() http.Handler {
	files := assets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if strings.HasSuffix(a.name, ".html") {
			h.Set("Content-Security-Policy", pagePolicy)
			h.Set("Referrer-Policy", "no-referrer")
		}
		// ServeContent answers conditional (If-None-Match: 304) and HEAD requests.
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	})
}

// Has reports whether path is one Handler serves ("/", "/app.js", ...). The bridge's router uses
// it to hand the app's files to Handler and keep its own problem answers for every other path.
func Has(path string) bool {
	_, ok := assets()[path]
	return ok
}
