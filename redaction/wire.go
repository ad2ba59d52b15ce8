package redaction

import (
	"encoding/json"

	"github.com/piivault/piivault/sdk"
)

// This file converts results to the HTTP wire types of package sdk, so the
// HTTP layer does not need to know the mapping. Metadata paths are named
// "metadata" followed by the pointer ("metadata/ip"), which no data pointer
// can be.

// Wire returns the field as sdk.PIIField.
func (f PIIField) Wire() sdk.PIIField {
	p := f.Path
	if f.Metadata {
		p = "metadata" + p
	}
	return sdk.PIIField{Path: p, Class: string(f.Class), Subject: f.Subject, State: string(f.State)}
}

func wirePII(fs []PIIField) []sdk.PIIField {
	out := make([]sdk.PIIField, len(fs))
	for i, f := range fs {
		out[i] = f.Wire()
	}
	return out
}

// Wire returns the event as sdk.Event.
func (e Event) Wire() sdk.Event {
	return sdk.Event{ID: e.ID.String(), Stream: e.Stream, Version: e.Version, Position: e.Position, Type: e.Type,
		Data: e.Data, Metadata: e.Metadata, RecordedAt: e.RecordedAt, PII: wirePII(e.PII)}
}

// Wire returns the schema as sdk.Schema.
func (s *Schema) Wire() sdk.Schema {
	out := sdk.Schema{EventType: s.EventType, Version: s.Version, Subject: s.Subject, LeakGuard: string(s.LeakGuard),
		Fields: make([]sdk.SchemaField, len(s.Fields))}
	for i, f := range s.Fields {
		out.Fields[i] = sdk.SchemaField{Path: f.Path, Class: string(f.Class), Subject: f.Subject}
	}
	return out
}

// Wire returns the snapshot as sdk.Snapshot.
func (s Snapshot) Wire() sdk.Snapshot {
	return sdk.Snapshot{Stream: s.Stream, Version: s.Version, Type: s.Type, Data: s.Data, SavedAt: s.SavedAt, PII: wirePII(s.PII)}
}

// Wire returns the export as sdk.SubjectExport. This is where the values
// leave their vault.PII wrapper: call it only to answer the export request.
func (x *SubjectExport) Wire() sdk.SubjectExport {
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

// Wire returns the record as sdk.AuditRecord.
func (r AuditRecord) Wire() sdk.AuditRecord {
	return sdk.AuditRecord{Position: r.Position, Time: r.Time, Principal: r.Principal, Roles: r.Roles, Action: r.Action,
		Purpose: r.Purpose, Subject: r.Subject, Stream: r.Stream, Version: r.Version, Paths: r.Paths,
		Effect: r.Effect, Reason: r.Reason, RequestID: r.RequestID}
}

// Wire returns the page as sdk.AuditPage.
func (p AuditPage) Wire() sdk.AuditPage {
	out := sdk.AuditPage{Records: make([]sdk.AuditRecord, len(p.Records)), Next: p.Next}
	for i, r := range p.Records {
		out.Records[i] = r.Wire()
	}
	return out
}
