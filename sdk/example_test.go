package sdk_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/piivault/piivault/sdk"
)

// This example is the quickstart: declare which fields of an event type are
// personal data, append an event, read it as support (revealed) and as
// analytics (tokenized), erase the customer, and read again (placeholder).
// It runs against an in-memory stand-in of the sidecar; point sdk.New at
// http://127.0.0.1:8200 to run it against `piivault serve --dev`.
func Example() {
	_, srv := newFake()
	defer srv.Close()
	ctx := context.Background()

	c, err := sdk.New(srv.URL, sdk.WithToken("dev-root-token"))
	if err != nil {
		log.Fatal(err)
	}

	// 1. Declare the PII of an event type: whose data it is, and which fields.
	_, err = c.PutSchema(ctx, "CustomerRegistered", sdk.Schema{
		Subject: "/customerId",
		Fields:  []sdk.SchemaField{{Path: "/email", Class: "email"}},
	})
	if err != nil {
		log.Fatal(err)
	}

	// 2. Append the first event of a new stream. The event keeps a token;
	// the e-mail address goes to the vault.
	res, err := c.Append(ctx, "customer-42", sdk.NoStream, sdk.EventInput{
		Type: "CustomerRegistered",
		Data: json.RawMessage(`{"customerId":"cust-42","email":"ada@example.com","plan":"pro"}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("appended version", res.LastVersion, "at position", res.LastPosition)

	// 3. Read as support (revealed) and as analytics (tokenized).
	show := func(c *sdk.Client) {
		for ev, err := range c.ReadStream(ctx, "customer-42", sdk.ReadOptions{}) {
			if err != nil {
				log.Fatal(err)
			}
			var d struct{ Email string }
			_ = json.Unmarshal(ev.Data, &d)
			fmt.Printf("v%d %s email=%s (%s)\n", ev.Version, ev.Type, d.Email, ev.PII[0].State)
		}
	}
	show(c.WithPurpose("support"))
	show(c.WithPurpose("analytics"))

	// 4. Erase the customer, then read again.
	er, err := c.Erase(ctx, "cust-42", sdk.ErasureRequest{Reason: "customer request", Ticket: "GDPR-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("erasure", er.Status)
	show(c.WithPurpose("support"))

	// Output:
	// appended version 1 at position 1
	// v1 CustomerRegistered email=ada@example.com (revealed)
	// v1 CustomerRegistered email=pv1:cust-42:1 (tokenized)
	// erasure erased
	// v1 CustomerRegistered email=[deleted under GDPR] (erased)
}

// Optimistic concurrency: an append at a stale version fails with an error
// that matches sdk.ErrConflict and carries the stream's actual version.
func ExampleClient_Append_conflict() {
	_, srv := newFake()
	defer srv.Close()
	ctx := context.Background()
	c, _ := sdk.New(srv.URL, sdk.WithToken("t"))

	ev := sdk.EventInput{Type: "NoteAdded", Data: json.RawMessage(`{"text":"hi"}`)}
	if _, err := c.Append(ctx, "order-7", sdk.NoStream, ev); err != nil {
		log.Fatal(err)
	}
	_, err := c.Append(ctx, "order-7", sdk.NoStream, ev) // someone else created it first
	var apiErr *sdk.APIError
	if errors.Is(err, sdk.ErrConflict) && errors.As(err, &apiErr) {
		fmt.Println("conflict: status", apiErr.Status, "code", apiErr.Code, "actual version", *apiErr.ActualVersion)
	}
	// Retry at the version the server reported.
	res, err := c.Append(ctx, "order-7", sdk.ExpectedVersion(*apiErr.ActualVersion), ev)
	fmt.Println("appended version", res.LastVersion, err)

	// Output:
	// conflict: status 409 code version_conflict actual version 1
	// appended version 2 <nil>
}

// ReadAll pages through every stream in global order; the loop may stop at
// any time.
func ExampleClient_ReadAll() {
	_, srv := newFake()
	defer srv.Close()
	ctx := context.Background()
	c, _ := sdk.New(srv.URL, sdk.WithToken("t"), sdk.WithPageSize(2))
	for i, stream := range []string{"a", "b", "a", "c", "b"} {
		_, _ = c.Append(ctx, stream, sdk.Any, sdk.EventInput{Type: "Tick", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
	}
	for ev, err := range c.ReadAll(ctx, sdk.ReadOptions{From: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Position, ev.Stream, ev.Version)
	}
	// Output:
	// 2 b 1
	// 3 a 2
	// 4 c 1
	// 5 b 2
}

// Subscribe yields past events, then live ones; after a dropped connection
// it resumes from the last position it yielded.
func ExampleClient_Subscribe() {
	_, srv := newFake()
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, _ := sdk.New(srv.URL, sdk.WithToken("t"))

	_, _ = c.Append(ctx, "s", sdk.Any, sdk.EventInput{Type: "Past", Data: json.RawMessage(`{}`)})
	n := 0
	for ev, err := range c.Subscribe(ctx, sdk.SubscribeOptions{From: 1}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Position, ev.Type)
		if n++; n == 1 {
			_, _ = c.Append(ctx, "s", sdk.Any, sdk.EventInput{Type: "Live", Data: json.RawMessage(`{}`)})
		} else {
			break
		}
	}
	// Output:
	// 1 Past
	// 2 Live
}

// ExportCSV answers a GDPR access request in the portable form: a zip of
// CSV files, read here with archive/zip and encoding/csv. The export needs
// the export permission (role dpo in the shipped policy) and is audited.
func ExampleClient_ExportCSV() {
	_, srv := newFake()
	defer srv.Close()
	ctx := context.Background()
	c, _ := sdk.New(srv.URL, sdk.WithToken("dpo-token"))
	_, _ = c.PutSchema(ctx, "CustomerRegistered", sdk.Schema{Subject: "/customerId", Fields: []sdk.SchemaField{{Path: "/email", Class: "email"}}})
	_, _ = c.Append(ctx, "customer-42", sdk.NoStream, sdk.EventInput{Type: "CustomerRegistered",
		Data: json.RawMessage(`{"customerId":"cust-42","email":"ada@example.com"}`)})

	b, err := c.ExportCSV(ctx, "cust-42")
	if err != nil {
		log.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			log.Fatal(err)
		}
		rows, err := csv.NewReader(rc).ReadAll()
		rc.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(f.Name, rows[1])
	}
	// Output:
	// subject.csv [cust-42 false  ]
	// values.csv [cust-42 email ada@example.com revealed ]
	// events.csv [customer-42 1 1 CustomerRegistered 2026-01-02T03:04:05Z /email]
}

// AdvanceErasures is the operator's trigger for the erasure workflow (the
// server also runs it in the background): it needs the admin permission.
func ExampleClient_AdvanceErasures() {
	_, srv := newFake()
	defer srv.Close()
	ctx := context.Background()
	c, _ := sdk.New(srv.URL, sdk.WithToken("admin-token"))
	if _, err := c.Erase(ctx, "cust-42", sdk.ErasureRequest{Reason: "customer request"}); err != nil {
		log.Fatal(err)
	}
	rep, err := c.AdvanceErasures(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("completed %d, still waiting for the vault's purge %d\n", rep.Completed, rep.AwaitingPurge)
	// Output:
	// completed 1, still waiting for the vault's purge 0
}

// PurgeErasures is for the erasure that must be complete now: the
// embedded vault purges erased subjects only once it is quiet, and
// AdvanceErasures leaves erasures waiting for that purge. It needs the
// admin permission, and it stalls the vault's writers while it runs.
func ExampleClient_PurgeErasures() {
	_, srv := newFake()
	defer srv.Close()
	ctx := context.Background()
	c, _ := sdk.New(srv.URL, sdk.WithToken("admin-token"))
	if _, err := c.Erase(ctx, "cust-42", sdk.ErasureRequest{Reason: "customer request"}); err != nil {
		log.Fatal(err)
	}
	rep, err := c.PurgeErasures(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("purged %d, completed %d, still waiting %d\n", rep.Purged, rep.Completed, rep.AwaitingPurge)
	// Output:
	// purged 1, completed 1, still waiting 0
}
