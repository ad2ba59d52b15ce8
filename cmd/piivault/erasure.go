package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/piivault/piivault/redaction/compliance"
	"github.com/piivault/piivault/sdk"
)

// The commands of the erasure workflow talk to a running sidecar through
// the SDK, except verify-receipt, which works offline.

func runErase(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "erase", "SUBJECT --reason TEXT [--ticket REF] [--request-id ID]",
		"Asks a running sidecar to erase SUBJECT (the token needs the dpo role): its\n"+
			"values and data key are destroyed in the vault; every read of its events\n"+
			"shows the placeholder. Prints the erasure ID and status. With --request-id\n"+
			"the request is idempotent.")
	reason := fs.String("reason", "", "why (required), e.g. \"customer request\"")
	ticket := fs.String("ticket", "", "external ticket reference")
	requester := fs.String("requester", "", "who asked")
	reqID := fs.String("request-id", "", "idempotency key of the request")
	var cf clientFlags
	addClientFlags(fs, &cf)
	subject, err := oneArg(fs, args, "erase", "SUBJECT")
	if err != nil {
		return helpOK(err)
	}
	if strings.TrimSpace(*reason) == "" {
		return usagef("erase: --reason is required")
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	er, err := c.Erase(ctx, subject, sdk.ErasureRequest{RequestID: *reqID, Reason: *reason, Requester: *requester, Ticket: *ticket})
	if err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	fmt.Fprintf(e.stdout, "erasure %s: %s\n", er.ErasureID, er.Status)
	return nil
}

func runExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "export", "SUBJECT -o FILE",
		"Writes everything a running sidecar holds about SUBJECT (values by class and\n"+
			"the events that reference it) to FILE as JSON (the token needs the dpo role;\n"+
			"the export is audited). FILE holds personal data: it is created with mode 0600.")
	outFile := fs.String("o", "", "output file ('-' for stdout) (required)")
	var cf clientFlags
	addClientFlags(fs, &cf)
	subject, err := oneArg(fs, args, "export", "SUBJECT")
	if err != nil {
		return helpOK(err)
	}
	if *outFile == "" {
		return usagef("export: -o FILE is required")
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	ex, err := c.Export(ctx, subject)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	b, err := json.MarshalIndent(ex, "", "  ")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	b = append(b, '\n')
	if *outFile == "-" {
		_, err = e.stdout.Write(b)
		return err
	}
	if err := os.WriteFile(*outFile, b, 0o600); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(e.stderr, "piivault: export of %d values and %d events written to %s\n", len(ex.Values), len(ex.Events), *outFile)
	return nil
}

func runErasureStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "erasure status", "ID", "Prints the status of an erasure, and its receipt once completed.")
	var cf clientFlags
	addClientFlags(fs, &cf)
	id, err := oneArg(fs, args, "erasure status", "ID")
	if err != nil {
		return helpOK(err)
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	er, err := c.GetErasure(ctx, id)
	if err != nil {
		return fmt.Errorf("erasure status: %w", err)
	}
	b, _ := json.MarshalIndent(er, "", "  ")
	fmt.Fprintf(e.stdout, "%s\n", b)
	return nil
}

func runErasureList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "erasure list", "[--overdue] [--near-deadline] [--status S] [--subject S]",
		"Lists erasure requests: ID, subject, status, due date.")
	overdue := fs.Bool("overdue", false, "only open requests past their deadline")
	near := fs.Bool("near-deadline", false, "only open requests close to their deadline")
	status := fs.String("status", "", "requested, erased, purged, completed, rejected or open")
	subject := fs.String("subject", "", "only this subject")
	limit := fs.Int("limit", 0, "at most this many")
	var cf clientFlags
	addClientFlags(fs, &cf)
	if err := noArgs(fs, args, "erasure list"); err != nil {
		return helpOK(err)
	}
	switch *status {
	case "", "open", sdk.ErasureRequested, sdk.ErasureErased, sdk.ErasurePurged, sdk.ErasureCompleted, sdk.ErasureRejected:
	default:
		return usagef("erasure list: --status %q: want requested, erased, purged, completed, rejected or open", *status)
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	list, err := c.ListErasures(ctx, sdk.ErasureQuery{Status: *status, Subject: *subject, Overdue: *overdue, NearDeadline: *near, Limit: *limit})
	if err != nil {
		return fmt.Errorf("erasure list: %w", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ERASURE\tSUBJECT\tSTATUS\tDUE\tFLAGS")
	for _, er := range list {
		var flags []string
		for _, f := range []struct {
			on   bool
			name string
		}{{er.Overdue, "overdue"}, {er.NearDeadline, "near-deadline"}, {er.Late, "late"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		due := ""
		if !er.DueAt.IsZero() {
			due = er.DueAt.UTC().Format(time.DateOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", er.ErasureID, er.Subject, er.Status, due, strings.Join(flags, ","))
	}
	return tw.Flush()
}

func runErasurePurge(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "erasure purge", "[--addr URL] [--token TOKEN]",
		"Asks a running sidecar to purge every erased subject from its vault now and\n"+
			"then complete the erasures that waited for it (the token needs the admin\n"+
			"role). The embedded vault otherwise purges on its own once it has had no\n"+
			"write for 5 s (at most 10 min under constant writes), because a purge\n"+
			"stalls its writers and readers while it runs: use this when an erasure must\n"+
			"be complete now. Safe to repeat. Prints counts and how long it took.")
	var cf clientFlags
	addClientFlags(fs, &cf)
	if err := noArgs(fs, args, "erasure purge"); err != nil {
		return helpOK(err)
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	rep, err := c.PurgeErasures(ctx)
	if err != nil {
		return fmt.Errorf("erasure purge: %w", err)
	}
	fmt.Fprintf(e.stdout, "purged %d, completed %d, still awaiting purge %d, erased on the way %d; took %s\n",
		rep.Purged, rep.Completed, rep.AwaitingPurge, rep.Erased, rep.DoneAt.Sub(rep.StartedAt).Round(time.Millisecond))
	return nil
}

func runVerifyReceipt(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "erasure verify-receipt", "FILE --public-key PEMFILE",
		"Checks offline that an erasure receipt was signed by the sidecar whose public\n"+
			"key is given (GET /v1/receipts/public-key serves it). Exits 1 if it was not.")
	keyFile := fs.String("public-key", "", "the sidecar's receipt public key, PEM (required)")
	file, err := oneArg(fs, args, "erasure verify-receipt", "FILE")
	if err != nil {
		return helpOK(err)
	}
	if *keyFile == "" {
		return usagef("erasure verify-receipt: --public-key PEMFILE is required")
	}
	kb, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("erasure verify-receipt: %w", err)
	}
	pub, err := compliance.ParsePublicKey(kb)
	if err != nil {
		return fmt.Errorf("erasure verify-receipt: %w", err)
	}
	doc, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("erasure verify-receipt: %w", err)
	}
	r, err := compliance.VerifyReceipt(signedReceipt(doc), pub)
	if err != nil {
		if errors.Is(err, compliance.ErrBadReceipt) {
			return fmt.Errorf("erasure verify-receipt: NOT valid: %w", err)
		}
		return fmt.Errorf("erasure verify-receipt: %w", err)
	}
	head := fmt.Sprintf("log head at position %d, hash %s", r.LogHead.Position, r.LogHead.Hash)
	if r.LogHead.Verified {
		head += ", hash chain verified up to it"
	}
	fmt.Fprintf(e.stdout, "ok: receipt %s for subject %s is signed by this key: %d values destroyed, data key destroyed %v, purge done %v, %s\n",
		r.ErasureID, r.Subject, r.ValuesDestroyed, r.DEKDestroyed, r.PurgeDone, head)
	return nil
}

// signedReceipt finds the signed receipt document in each form the docs
// name: the document itself ({"receipt":{...},"signature":{...}}), the
// answer of GET /v1/erasures/{id} (the document under "receipt"), and an
// ErasureCompleted event as read from the log (the document under "data",
// or the event's data alone). Anything else is returned as it is, for
// VerifyReceipt to refuse with its reason.
func signedReceipt(doc []byte) []byte {
	for range 3 { // event -> status answer -> document
		var m map[string]json.RawMessage
		if json.Unmarshal(doc, &m) != nil {
			return doc
		}
		if _, ok := m["signature"]; ok {
			return doc
		}
		next, ok := m["receipt"]
		if !ok {
			next, ok = m["data"]
		}
		if !ok {
			return doc
		}
		doc = next
	}
	return doc
}

func runHold(place bool) func(context.Context, *env, []string) error {
	name, verb := "hold lift", "Lifts the legal hold on SUBJECT."
	if place {
		name, verb = "hold place", "Places SUBJECT under a legal hold: erasure requests are rejected (409) until\nthe hold is lifted. Placing and lifting are audited."
	}
	return func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(e, name, "SUBJECT --reason TEXT", verb)
		reason := fs.String("reason", "", "why (required)")
		var cf clientFlags
		addClientFlags(fs, &cf)
		subject, err := oneArg(fs, args, name, "SUBJECT")
		if err != nil {
			return helpOK(err)
		}
		if strings.TrimSpace(*reason) == "" {
			return usagef("%s: --reason is required", name)
		}
		c, err := cf.client(e)
		if err != nil {
			return err
		}
		change := c.LiftHold
		if place {
			change = c.PlaceHold
		}
		h, err := change(ctx, subject, *reason)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(e.stdout, "hold on %s: active %v\n", h.Subject, h.Active)
		return nil
	}
}

// noArgs parses args and refuses any positional argument.
func noArgs(fs *flag.FlagSet, args []string, cmd string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", cmd, fs.Arg(0))
	}
	return nil
}

// oneArg parses flags given before or after one positional argument.
func oneArg(fs *flag.FlagSet, args []string, cmd, what string) (string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return "", err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != 1 {
		return "", usagef("%s: want one %s, got %d arguments", cmd, what, len(pos))
	}
	return pos[0], nil
}
