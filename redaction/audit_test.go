package redaction

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// FuzzAuditEncoding checks that the hand-written encoding of audit events
// is byte for byte encoding/json's.
func FuzzAuditEncoding(f *testing.F) {
	f.Add("alice", "support", false, "read", "", "req-1", "cust-42", "orders-1", "OrderPlaced", uint64(7), "/email", "email", "reveal", "revealed", "role support", "", int64(1700000000123456789))
	f.Add("", "", true, "", "p<>&", "", "ünï", "s\"\\\n", "T\u2028", uint64(0), "", "", "", "", "", "e-1", int64(0))
	f.Add("\xff", "a,b", false, "erase", "x", "y", "", "", "", uint64(1<<63), "/a/0", "c", "deny", "denied", "policy could not decide; root", "\x00", int64(-1))
	f.Fuzz(func(t *testing.T, principal, role string, root bool, action, purpose, reqID, subject, stream, typ string,
		version uint64, path, class, effect, state, reason, erasureID string, nanos int64) {
		ev := auditEvent{Time: time.Unix(0, nanos).UTC(), Principal: principal, Root: root, Action: action,
			Purpose: purpose, RequestID: reqID}
		if role != "" {
			ev.Roles = []string{role, role + "2"}
		}
		recs := []auditRecord{
			{Subject: subject, Stream: stream, EventType: typ, Versions: []uint64{version, version / 2},
				Paths: []string{path, "/x"}, Classes: []Class{Class(class), "y"}, Effect: effect, State: State(state),
				Reason: reason, ErasureID: erasureID},
			{},
			{Subject: subject, Reason: reason},
		}
		if path == "" {
			recs[0].Paths, recs[0].Classes, recs[0].Versions = nil, nil, nil
		}
		ev.Records = recs
		want, werr := json.Marshal(ev)
		head, err := appendAuditHead(nil, &ev)
		if (err == nil) != (werr == nil) {
			t.Fatalf("appendAuditHead error %v, json.Marshal error %v", err, werr)
		}
		if err != nil {
			return
		}
		got := head
		for i := range recs {
			if i > 0 {
				got = append(got, ',')
			}
			got = appendAuditRecord(got, &recs[i])
		}
		got = append(got, "]}"...)
		if !bytes.Equal(got, want) {
			t.Fatalf("encoding\n got %s\nwant %s", got, want)
		}
	})
}

// TestAuditSplitsBigRequests: the records of a request too big for one
// event are packed, in order, into events of at most
// defaultAuditEventBytes, appended together.
func TestAuditSplitsBigRequests(t *testing.T) {
	env := newEnv(t, envConfig{embedded: true, quiet: true})
	var recs []auditRecord
	for i := 0; len(recs)*200 < 3*defaultAuditEventBytes; i++ {
		recs = append(recs, auditRecord{Subject: fmt.Sprintf("cust-%d", i), Stream: "orders", EventType: "OrderPlaced",
			Versions: []uint64{uint64(i)}, Paths: []string{"/email", "/phone", "/name"}, Classes: []Class{"email", "phone", "name"},
			Effect: "reveal", State: StateRevealed, Reason: "root token"})
	}
	ctx := t.Context()
	if err := env.svc.audit(ctx, pRoot, "read", recs); err != nil {
		t.Fatal(err)
	}
	evs, err := env.log.ReadStream(ctx, StreamAudit, 1, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 3 {
		t.Fatalf("%d records of %d bytes make %d audit events, want at least 3", len(recs), len(recs)*200, len(evs))
	}
	var got []auditRecord
	for _, e := range evs {
		if len(e.Data) > defaultAuditEventBytes {
			t.Fatalf("audit event of %d bytes, want at most %d", len(e.Data), defaultAuditEventBytes)
		}
		var ae auditEvent
		if err := json.Unmarshal(e.Data, &ae); err != nil {
			t.Fatalf("audit event does not decode: %v", err)
		}
		if ae.Principal != pRoot.Principal.ID || ae.Action != "read" {
			t.Fatalf("audit event head = %q %q", ae.Principal, ae.Action)
		}
		got = append(got, ae.Records...)
	}
	if len(got) != len(recs) {
		t.Fatalf("audit events hold %d records, want %d", len(got), len(recs))
	}
	for i := range got {
		if got[i].Subject != recs[i].Subject || got[i].Versions[0] != recs[i].Versions[0] {
			t.Fatalf("record %d = %+v, want %+v", i, got[i], recs[i])
		}
	}
}
