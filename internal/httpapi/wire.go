package httpapi

import (
	"encoding/json"

	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/redaction/compliance"
	"github.com/piivault/piivault/sdk"
)

// This file is the one place that maps the domain types of redaction and
// compliance to the wire types of package sdk, which define the wire.
// Metadata paths are named "metadata" followed by the pointer
// ("metadata/ip"), which no data pointer can be.

func wirePIIField(f redaction.PIIField) sdk.PIIField {
	p := f.Path
	if f.Metadata {
		p = "metadata" + p
	}
	return sdk.PIIField{Path: p, Class: string(f.Class), Subject: f.Subject, State: string(f.State)}
}

func wirePII(fs []redaction.PIIField) []sdk.PIIField {
	out := make([]sdk.PIIField, len(fs))
	for i, f := range fs {
		out[i] = wirePIIField(f)
	}
	return out
}

func wireEvent(e redaction.Event) sdk.Event {
	return sdk.Event{ID: e.ID.String(), Stream: e.Stream, Version: e.Version, Position: e.Position, Type: e.Type,
		Data: e.Data, Metadata: e.Metadata, RecordedAt: e.RecordedAt, PII: wirePII(e.PII)}
}

func wireEvents(evs []redaction.Event) []sdk.Event {
	out := make([]sdk.Event, len(evs))
	for i, e := range evs {
		out[i] = wireEvent(e)
	}
	return out
}

func wireSchema(s *redaction.Schema) sdk.Schema {
	out := sdk.Schema{EventType: s.EventType, Version: s.Version, Subject: s.Subject, LeakGuard: string(s.LeakGuard), Unprotected: s.Unprotected,
		Fields: make([]sdk.SchemaField, len(s.Fields))}
	for i, f := range s.Fields {
		out.Fields[i] = sdk.SchemaField{Path: f.Path, Class: string(f.Class), Subject: f.Subject}
	}
	return out
}

func wireSnapshot(s redaction.Snapshot) sdk.Snapshot {
	return sdk.Snapshot{Stream: s.Stream, Version: s.Version, Type: s.Type, Data: s.Data, SavedAt: s.SavedAt, PII: wirePII(s.PII)}
}

// wireExport is where the values leave their vault.PII wrapper: call it only
// to answer the export request.
func wireExport(x *redaction.SubjectExport) sdk.SubjectExport {
	out := sdk.SubjectExport{Subject: x.Subject, Erased: x.Erased, ErasureID: x.ErasureID,
		Values: make([]sdk.ExportValue, 0, len(x.Values)), Events: make([]sdk.ExportEventRef, 0, len(x.Events))}
	for _, v := range x.Values {
		raw := json.RawMessage(v.Value.Reveal())
		if len(raw) == 0 {
			raw = json.RawMessage("null")
		}
		out.Values = append(out.Values, sdk.ExportValue{Class: string(v.Class), Value: raw, State: string(v.State), CreatedAt: v.CreatedAt})
	}
	for _, r := range x.Events {
		out.Events = append(out.Events, sdk.ExportEventRef{Stream: r.Stream, Version: r.Version, Position: r.Position,
			Type: r.Type, RecordedAt: r.RecordedAt, Paths: r.Paths})
	}
	return out
}

func wireAuditPage(p redaction.AuditPage) sdk.AuditPage {
	out := sdk.AuditPage{Records: make([]sdk.AuditRecord, len(p.Records)), Next: p.Next}
	for i, r := range p.Records {
		out.Records[i] = sdk.AuditRecord{Position: r.Position, Time: r.Time, Principal: r.Principal, Roles: r.Roles, Action: r.Action,
			Purpose: r.Purpose, Subject: r.Subject, Stream: r.Stream, Version: r.Version, Paths: r.Paths,
			Effect: r.Effect, Reason: r.Reason, RequestID: r.RequestID}
	}
	return out
}

func wireErasure(e compliance.Erasure) sdk.Erasure {
	return sdk.Erasure{ErasureID: e.ID, Subject: e.Subject, Status: e.Status, Receipt: e.Receipt,
		RequestID: e.RequestID, Reason: e.Reason, Requester: e.Requester, Ticket: e.Ticket, Principal: e.Principal,
		Rejection: e.Rejection, ValuesDeleted: e.ValuesDeleted, DEKDestroyed: e.DEKDestroyed, AlreadyErased: e.AlreadyErased,
		RequestedAt: e.RequestedAt, ErasedAt: e.ErasedAt, PurgedAt: e.PurgedAt, CompletedAt: e.CompletedAt,
		RejectedAt: e.RejectedAt, DueAt: e.DueAt, Overdue: e.Overdue, NearDeadline: e.NearDeadline, Late: e.Late}
}

func wireErasures(es []compliance.Erasure) []sdk.Erasure {
	out := make([]sdk.Erasure, len(es))
	for i, e := range es {
		out[i] = wireErasure(e)
	}
	return out
}

func wireHold(h compliance.Hold) sdk.Hold {
	return sdk.Hold{Subject: h.Subject, Active: h.Active, Reason: h.Reason, PlacedBy: h.PlacedBy, PlacedAt: h.PlacedAt,
		LiftedBy: h.LiftedBy, LiftedAt: h.LiftedAt, LiftReason: h.LiftReason}
}

func wireHolds(hs []compliance.Hold) []sdk.Hold {
	out := make([]sdk.Hold, len(hs))
	for i, h := range hs {
		out[i] = wireHold(h)
	}
	return out
}

func wireAdvanceReport(rep compliance.AdvanceReport) sdk.AdvanceReport {
	return sdk.AdvanceReport{Erased: rep.Erased, Purged: rep.Purged, Completed: rep.Completed, AwaitingPurge: rep.AwaitingPurge}
}

func wireRetentionReport(rep compliance.RetentionReport) sdk.RetentionReport {
	return sdk.RetentionReport{Scanned: rep.Scanned, Expired: rep.Expired, Records: rep.Records, Cursor: rep.Cursor, Mode: rep.Mode}
}
