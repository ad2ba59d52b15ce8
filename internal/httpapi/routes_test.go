package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestEveryRouteAsksThePolicy walks gin's registered routes: each must come
// from the route table, and each non-public one must name a valid action.
// The public ones are exactly the operational endpoints.
func TestEveryRouteAsksThePolicy(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{})
	table := map[string]route{}
	for _, rt := range e.srv.routes {
		table[rt.method+" "+rt.path] = rt
	}
	publicOK := []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json", "GET /v1/receipts/public-key"}
	registered := e.srv.engine.Routes()
	if len(registered) != len(table) {
		t.Errorf("gin has %d routes, the table %d", len(registered), len(table))
	}
	for _, ri := range registered {
		key := ri.Method + " " + ri.Path
		rt, ok := table[key]
		switch {
		case !ok:
			t.Errorf("%s is registered outside the route table", key)
		case rt.public && !slices.Contains(publicOK, key):
			t.Errorf("%s is public; only %v may be", key, publicOK)
		case !rt.public && !rt.action.Valid():
			t.Errorf("%s has no valid policy action (%q)", key, rt.action)
		case !rt.public && !strings.HasPrefix(ri.Path, "/v1/"):
			t.Errorf("%s: authorized routes live under /v1", key)
		}
	}
}

func TestRegisterRefusesRouteWithoutAction(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{})
	defer func() {
		if recover() == nil {
			t.Fatal("register accepted a route with no action")
		}
	}()
	e.srv.register([]route{{method: http.MethodGet, path: "/v1/forgot", handler: e.srv.healthz}})
}

// TestOpenAPIMatchesRoutes checks openapi.json against gin's routes in both
// directions, and that each documented /v1 operation names the same policy
// action as the route table.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{})
	r := e.do(t, http.MethodGet, "/openapi.json", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d", r.status)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	documented := map[string]string{} // "GET /v1/x/:id" -> action
	for p, item := range doc.Paths {
		ginPath := param.ReplaceAllString(p, ":$1")
		for m, raw := range item {
			if m == "parameters" {
				continue
			}
			var op struct {
				Action string `json:"x-piivault-action"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", m, p, err)
			}
			documented[strings.ToUpper(m)+" "+ginPath] = op.Action
		}
	}
	table := map[string]route{}
	for _, rt := range e.srv.routes {
		table[rt.method+" "+rt.path] = rt
	}
	for _, ri := range e.srv.engine.Routes() {
		key := ri.Method + " " + ri.Path
		action, ok := documented[key]
		if !ok {
			t.Errorf("route %s is not documented in openapi.json", key)
			continue
		}
		if want := string(table[key].action); action != want {
			t.Errorf("openapi.json says %s needs %q, the route table %q", key, action, want)
		}
	}
	for key := range documented {
		if _, ok := table[key]; !ok {
			t.Errorf("openapi.json documents %s, which is not a route", key)
		}
	}
}
