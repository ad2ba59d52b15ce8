package embedded_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/embedded"
	"github.com/piivault/piivault/vault/keys"
)

func Example() {
	dir, err := os.MkdirTemp("", "vault-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// The key-encryption key: a local key file, created on first start.
	kp, err := keys.OpenLocal(filepath.Join(dir, "kek"), true)
	if err != nil {
		log.Fatal(err)
	}
	// PurgeDelay -1: no background purge, Purge runs on demand only.
	s, err := embedded.Open(filepath.Join(dir, "vault"), kp, embedded.Options{PurgeDelay: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	toks, err := s.Put(ctx, []vault.Entry{
		{Subject: "cust-42", Class: "email", Value: vault.NewPII([]byte(`"alice@example.com"`))},
	})
	if err != nil {
		log.Fatal(err)
	}
	sub, _ := vault.ParseToken(toks[0])
	fmt.Println("token names subject:", sub)

	res, _ := s.Resolve(ctx, toks)
	fmt.Println(res[0].State, string(res[0].Value.Reveal()), res[0].Value) // PII prints redacted

	if _, err := s.Erase(ctx, "cust-42", "erasure-1"); err != nil {
		log.Fatal(err)
	}
	res, _ = s.Resolve(ctx, toks)
	fmt.Println(res[0].State)

	_, err = s.Put(ctx, []vault.Entry{{Subject: "cust-42", Class: "email", Value: vault.NewPII([]byte(`"x"`))}})
	fmt.Println(err)

	// Make the erasure physical now instead of waiting for the background purge.
	rep, err := s.Purge(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("purged subjects:", rep.Subjects)
	// Output:
	// token names subject: cust-42
	// found "alice@example.com" [REDACTED]
	// erased
	// put values: vault: subject erased
	// purged subjects: 1
}
