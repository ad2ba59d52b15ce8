package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestKeyVersionRoute: GET /v1/admin/keys answers the embedded vault's KEK
// version (keys.Local, a fresh key file: 1) to an admin, refuses a DPO,
// and answers 501 where the vault does not say. Real stack.
func TestKeyVersionRoute(t *testing.T) {
	var e *realEnv
	e = newComplianceEnv(t, Options{KEKVersion: func() uint32 {
		v, ok := e.emb.KEKVersion()
		if !ok {
			t.Error("the embedded vault over keys.Local does not report a KEK version")
		}
		return v
	}})
	get := func(role string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/admin/keys", nil)
		req.Header.Set("Authorization", "Bearer "+roleTokens[role])
		res, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b json.RawMessage
		_ = json.NewDecoder(res.Body).Decode(&b)
		return res.StatusCode, b
	}
	if code, b := get("admin"); code != http.StatusOK || string(b) != `{"kekVersion":1}` {
		t.Errorf("admin: %d %s, want 200 {\"kekVersion\":1}", code, b)
	}
	if code, _ := get("dpo"); code != http.StatusForbidden {
		t.Errorf("dpo: %d, want 403", code)
	}
	e2 := newComplianceEnv(t, Options{})
	req, _ := http.NewRequest(http.MethodGet, e2.ts.URL+"/v1/admin/keys", nil)
	req.Header.Set("Authorization", "Bearer "+roleTokens["admin"])
	res, err := e2.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotImplemented {
		t.Errorf("no KEKVersion: %d, want 501", res.StatusCode)
	}
}
