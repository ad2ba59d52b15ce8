// Package sdk is the Go client of the piivault sidecar's HTTP API, and the
// home of its wire types (wire.go), which the server encodes and this client
// decodes.
//
// # Quickstart
//
//	c, err := sdk.New("http://127.0.0.1:8200", sdk.WithToken(token), sdk.WithPurpose("support"))
//	_, err = c.PutSchema(ctx, "CustomerRegistered", sdk.Schema{
//		Subject: "/customerId",
//		Fields:  []sdk.SchemaField{{Path: "/email", Class: "email"}},
//	})
//	res, err := c.Append(ctx, "customer-42", sdk.NoStream, sdk.EventInput{Type: "CustomerRegistered", Data: data})
//	for ev, err := range c.ReadStream(ctx, "customer-42", sdk.ReadOptions{}) { ... }
//
// # Roles and purposes
//
// A Client carries a bearer token and a default purpose (the X-Purpose header
// of reads). WithToken and WithPurpose on a Client return a copy that shares
// the connection pool, so one process can act as several principals cheaply.
//
// # Errors
//
// Every failed call returns an error that works with errors.Is against the
// sentinels of errors.go (ErrConflict, ErrErased, ErrDenied, ...) and with
// errors.As against *APIError, which carries the HTTP status, the problem's
// stable code and its detail. A version conflict also carries the stream's
// actual version.
//
// # Retries
//
// Only calls that are safe to repeat are retried, with exponential backoff and
// jitter: reads, schema puts (idempotent by event type), appends whose every
// event carries an ID (the log never appends an event ID twice), and the
// admin triggers (AdvanceErasures, PurgeErasures, RunRetention: each run
// moves things only forward). An append without IDs is sent once. Retries stop on context
// cancellation and on 4xx answers other than 429.
//
// # Iterators
//
// ReadStream, ReadAll and Subscribe return iter.Seq2[Event, error]. The read
// iterators fetch pages on demand and stop at the end of the log; breaking out
// of the loop stops fetching. Subscribe never ends on its own: after a dropped
// connection it reconnects with Last-Event-ID set to the last position it
// yielded, so the caller sees every event once, in order, until ctx is done or
// the server refuses (for example 401 or 403), when it yields the error.
//
// Positions number the whole log, gap-free and in commit order, system
// events included; ReadAll and Subscribe hide some system streams, so the
// positions they yield only grow, with gaps. Checkpoint the last position
// seen and resume from it plus one.
//
// # Erasure workflow
//
// Erase starts an erasure that moves from requested to completed (purged,
// with a signed receipt) in the background; GetErasure and ListErasures
// follow it, PlaceHold and LiftHold manage legal holds (an erasure under a
// hold fails with ErrLegalHold), ReceiptPublicKey gives the key that
// verifies receipts. A read model that subscribes to the log calls
// ErasureCompletedOf on each event and forgets the subject when it reports
// true.
//
// Export (JSON) and ExportCSV (the server's zip of CSV files) answer access
// and portability requests. AdvanceErasures and RunRetention are the admin
// triggers of the erasure workflow and the retention job, which the server
// otherwise runs in the background; PurgeErasures purges the vault at once
// for erasures that wait for its background purge (the embedded vault's,
// once it is quiet). All three are safe to repeat and retried.
package sdk
