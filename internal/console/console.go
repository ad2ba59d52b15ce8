package console

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the console is served under.
const Prefix = "/ui/"

// ContentSecurityPolicy is sent with every answer of the console: scripts
// and styles from this origin only, no inline script, no eval, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Options configures the console.
type Options struct {
	// Version is shown in the page footer.
	Version string
	// VaultBackend names the vault backend (embedded, hashicorp, postgres)
	// for the Health page. It is configuration, not a secret.
	VaultBackend string
}

// Handler serves the console under Prefix.
type Handler struct {
	index  []byte
	static http.Handler
}

var _ http.Handler = (*Handler)(nil)

// New renders the page shell once and returns the handler.
func New(opts Options) (*Handler, error) {
	t, err := template.ParseFS(assets, "assets/index.html")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, opts); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	return &Handler{index: b.Bytes(), static: http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.FileServerFS(sub))}, nil
}

// ServeHTTP answers GET and HEAD for the page and its assets.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean(r.URL.Path)
	if p == "/ui" || p == "/ui/index.html" {
		if !strings.HasSuffix(r.URL.Path, "/") && p == "/ui" {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		hd.Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(h.index)
		return
	}
	switch path.Ext(p) {
	case ".js", ".css", ".svg":
		h.static.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}
