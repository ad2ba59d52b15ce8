package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/piivault/piivault/internal/console"
)

func TestConsoleServesPageWithStrictHeaders(t *testing.T) {
	h, err := console.New(console.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, "/ui/", 200, `<script src="/ui/app.js" defer></script>`},
		{http.MethodGet, "/ui/app.js", 200, "Authorization"},
		{http.MethodGet, "/ui/app.css", 200, "body"},
		{http.MethodHead, "/ui/", 200, ""},
		{http.MethodGet, "/ui", 301, ""},
		{http.MethodGet, "/ui/index.tmpl", 404, ""},
		{http.MethodGet, "/ui/../go.mod", 404, ""},
		{http.MethodPost, "/ui/", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d", w.Code, tt.status)
			}
			if !strings.Contains(w.Body.String(), tt.body) {
				t.Errorf("body lacks %q", tt.body)
			}
			for k, want := range map[string]string{
				"Content-Security-Policy": console.ContentSecurityPolicy,
				"X-Frame-Options":         "DENY",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
			} {
				if got := w.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if w.Header().Get("Set-Cookie") != "" {
				t.Error("console set a cookie")
			}
		})
	}
}

// The page must not need inline script or eval: the CSP forbids them, so a
// page that used them would break in the browser.
func TestConsoleHasNoInlineScriptOrEval(t *testing.T) {
	h, err := console.New(console.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/ui/", "/ui/app.js"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p, nil))
		b := w.Body.String()
		for _, bad := range []string{"<script>", " onclick=", " onload=", "eval(", "new Function", "localStorage", "document.cookie", "location.hash =", "history.pushState"} {
			if strings.Contains(b, bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
	}
	if !strings.Contains(console.ContentSecurityPolicy, "frame-ancestors 'none'") || strings.Contains(console.ContentSecurityPolicy, "unsafe") {
		t.Errorf("CSP %q is not strict", console.ContentSecurityPolicy)
	}
}
