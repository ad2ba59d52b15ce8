package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A subscription ends when a reload of the credentials removes its token or
// changes its principal's roles, before it delivers another event; a reload
// that leaves them as they were keeps it.
func TestSubscriptionEndsWhenCredentialsAreRevoked(t *testing.T) {
	tokens := func(supportRoles ...string) *Authenticator {
		t.Helper()
		var entries []TokenEntry
		for role, tok := range roleTokens {
			roles := []string{role}
			if role == "support" {
				if supportRoles == nil {
					continue // revoked
				}
				roles = supportRoles
			}
			entries = append(entries, TokenEntry{SHA256: HashToken(tok), Principal: role + "-1", Roles: roles})
		}
		a, err := NewAuthenticator(AuthConfig{Tokens: entries, RootTokenSHA256: HashToken(rootToken)})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tt := range []struct {
		name   string
		reload *Authenticator
		ended  bool
	}{
		{"token removed", tokens(), true},
		{"roles changed", tokens("support", "billing"), true},
		{"nothing changed", tokens("support"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newComplianceEnv(t, Options{HeartbeatInterval: 50 * time.Millisecond})
			if r := e.doJSON(t, http.MethodPut, "/v1/schemas/CustomerRegistered", roleTokens["admin"], customerSchema, nil); r.status != 200 {
				t.Fatalf("PUT schema = %d %s", r.status, r.body)
			}
			from := strconv.FormatUint(e.head(t)+1, 10)
			body, stop := sseOpen(t, e.testEnv, roleTokens["support"], "?from="+from, "X-Purpose", "support")
			defer stop()
			e.srv.SetAuth(tt.reload)
			if r := e.doJSON(t, http.MethodPost, "/v1/streams/c-9/events", roleTokens["service"], `{"events":[`+customerEvent("", "cust-9")+`]}`, nil); r.status != 201 {
				t.Fatalf("append = %d %s", r.status, r.body)
			}
			got := make(chan string, 1)
			go func() {
				var sb strings.Builder
				buf := make([]byte, 4096)
				for {
					n, err := body.Read(buf)
					sb.Write(buf[:n])
					if err != nil || strings.Contains(sb.String(), canaryEmail) {
						got <- sb.String()
						return
					}
				}
			}()
			var out string
			select {
			case out = <-got:
			case <-time.After(10 * time.Second):
				stop()
				out = <-got
				if tt.ended {
					t.Fatalf("the subscription neither ended nor delivered within 10 s: %q", out)
				}
			}
			if tt.ended {
				if strings.Contains(out, canaryEmail) || strings.Contains(out, canaryName) {
					t.Errorf("a revoked subscription delivered personal data: %q", out)
				}
				if !strings.Contains(out, "event: error") || !strings.Contains(out, `"code":"unauthenticated"`) {
					t.Errorf("the stream did not end with an unauthenticated error event: %q", out)
				}
			} else if !strings.Contains(out, canaryEmail) {
				t.Errorf("an unchanged reload ended the subscription: %q", out)
			}
		})
	}
}
