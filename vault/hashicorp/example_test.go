package hashicorp_test

import (
	"context"
	"fmt"
	"log"

	"github.com/hashicorp/vault/api"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/hashicorp"
)

// Example stores two values of a customer, reads them back in one batch,
// and erases the customer. It needs a Vault (VAULT_ADDR, VAULT_TOKEN) with
// KV v2 at secret/ and Transit at transit/, such as the dev server of
// .ci/devvault.sh, so it has no Output to check.
func Example() {
	ctx := context.Background()
	client, err := api.NewClient(hashicorp.ClientConfig(0)) // reads VAULT_ADDR
	if err != nil {
		log.Fatal(err)
	}
	s, err := hashicorp.New(ctx, client, hashicorp.Options{}) // token auth: VAULT_TOKEN
	if err != nil {
		log.Fatal(err) // wraps vault.ErrUnavailable if Vault cannot be reached
	}
	defer s.Close()

	toks, err := s.Put(ctx, []vault.Entry{
		{Subject: "cust-42", Class: "email", Value: vault.NewPII([]byte(`"ada@example.com"`))},
		{Subject: "cust-42", Class: "phone", Value: vault.NewPII([]byte(`"+32 470 00 00 00"`))},
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := s.Resolve(ctx, toks)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res[0].State == vault.Found, res[0].Value) // the value prints as [REDACTED]

	if _, err := s.Erase(ctx, "cust-42", "erasure-1"); err != nil {
		log.Fatal(err)
	}
	res, _ = s.Resolve(ctx, toks)
	fmt.Println(res[0].State == vault.Erased)
}
