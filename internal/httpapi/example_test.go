package httpapi_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/piivault/piivault/internal/httpapi"
)

// The configuration holds only token digests: hash a new token once, store
// the digest, hand the token to its owner.
func ExampleHashToken() {
	fmt.Println(httpapi.HashToken("s3cret-token"))
	// Output: a81e611a041b13f078bf8ebe5dab4d4fd63fcc5594661c918bec093a2f416a7e
}

// An Authenticator maps a bearer token to the principal the policy sees.
func ExampleNewAuthenticator() {
	auth, err := httpapi.NewAuthenticator(httpapi.AuthConfig{
		Tokens: []httpapi.TokenEntry{{
			SHA256:    httpapi.HashToken("orders-token"),
			Principal: "orders",
			Roles:     []string{"service"},
		}},
	})
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("GET", "/v1/events", nil)
	r.Header.Set("Authorization", "Bearer orders-token")
	p, err := auth.Authenticate(r)
	fmt.Println(p.ID, p.Roles, err)
	// Output: orders [service] <nil>
}
