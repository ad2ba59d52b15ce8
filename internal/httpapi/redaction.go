package httpapi

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"

	"github.com/google/uuid"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/sdk"
)

// New returns the HTTP API over the redaction service. The service makes
// the request-level policy decision of every /v1 route before its handler
// runs (and audits a denial), once; it asks the policy field by field when
// it resolves PII. The policy engine itself serves only the policy matrix
// (GET /v1/policy/matrix), which shows what the policy would decide.
func New(svc *redaction.Service, pol *policy.Engine, opts Options) *Server {
	s := newServer(&redactionCore{svc: svc}, opts)
	s.pol = pol
	return s
}

// redactionCore adapts *redaction.Service to the handlers' service: it is the
// one place that knows both the wire types and the service's types.
type redactionCore struct {
	svc *redaction.Service
}

var _ service = (*redactionCore)(nil)

func access(who Caller) redaction.Access {
	return redaction.Access{Principal: who.Principal, Purpose: who.Purpose, RequestID: who.RequestID, Decision: who.decision}
}

// errDenied is what a denial wraps.
var errDenied = redaction.ErrDenied

func (r *redactionCore) Authorize(ctx context.Context, who Caller, action policy.Action, res policy.Resource) (Caller, error) {
	a, err := r.svc.Authorize(ctx, access(who), action, res)
	if err != nil {
		return who, err
	}
	who.decision = a.Decision
	return who, nil
}

func (r *redactionCore) PutSchema(ctx context.Context, who Caller, eventType string, s sdk.Schema) (sdk.Schema, error) {
	doc, err := json.Marshal(s)
	if err != nil {
		return sdk.Schema{}, fmt.Errorf("encode schema: %w", err)
	}
	out, err := r.svc.PutSchema(ctx, access(who), eventType, doc)
	if err != nil {
		return sdk.Schema{}, err
	}
	return wireSchema(out), nil
}

func (r *redactionCore) GetSchema(ctx context.Context, _ Caller, eventType string) (sdk.Schema, error) {
	out, err := r.svc.GetSchema(ctx, eventType)
	if err != nil {
		return sdk.Schema{}, err
	}
	return wireSchema(out), nil
}

func (r *redactionCore) ListSchemas(ctx context.Context, _ Caller) ([]sdk.Schema, error) {
	all, err := r.svc.ListSchemas(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.Schema, len(all))
	for i, s := range all {
		out[i] = wireSchema(s)
	}
	return out, nil
}

func (r *redactionCore) Append(ctx context.Context, who Caller, stream string, req sdk.AppendRequest, ids []uuid.UUID) (sdk.AppendResult, error) {
	expected := redaction.Any
	if req.ExpectedVersion != nil {
		if *req.ExpectedVersion > math.MaxInt64 {
			return sdk.AppendResult{}, badRequest(sdk.CodeBadRequest, "expectedVersion: too large")
		}
		expected = redaction.ExpectedVersion(*req.ExpectedVersion)
	}
	evs := make([]redaction.EventInput, len(req.Events))
	for i, in := range req.Events {
		// decodeAppend validated the JSON (jsonvalid or encoding/json).
		evs[i] = redaction.EventInput{Type: in.Type, Data: in.Data, Metadata: in.Metadata, JSONChecked: true}
		if ids != nil {
			evs[i].ID = ids[i]
		}
	}
	res, err := r.svc.Append(ctx, access(who), stream, expected, evs)
	if err != nil {
		return sdk.AppendResult{}, err
	}
	return sdk.AppendResult{FirstVersion: res.FirstVersion, LastVersion: res.LastVersion,
		FirstPosition: res.FirstPosition, LastPosition: res.LastPosition}, nil
}

func (r *redactionCore) ReadStream(ctx context.Context, who Caller, stream string, req ReadRequest) ([]sdk.Event, error) {
	dir := redaction.Forward
	if req.Backward {
		dir = redaction.Backward
	}
	evs, err := r.svc.ReadStream(ctx, access(who), stream, req.From, req.Limit, dir)
	if err != nil {
		return nil, err
	}
	return wireEvents(evs), nil
}

func (r *redactionCore) ReadAll(ctx context.Context, who Caller, req ReadRequest) ([]sdk.Event, error) {
	evs, err := r.svc.ReadAll(ctx, access(who), req.From, req.Limit, redaction.Filter{Types: req.Types})
	if err != nil {
		return nil, err
	}
	return wireEvents(evs), nil
}

var _ pageAppender = (*redactionCore)(nil)

func (r *redactionCore) appendStreamPage(ctx context.Context, who Caller, stream string, req ReadRequest, b []byte, n *stateCounts) ([]byte, int, error) {
	dir := redaction.Forward
	if req.Backward {
		dir = redaction.Backward
	}
	evs, err := r.svc.ReadStream(ctx, access(who), stream, req.From, req.Limit, dir)
	if err != nil {
		return b, 0, err
	}
	b, err = appendRedactionPage(b, evs, n)
	return b, len(evs), err
}

func (r *redactionCore) appendAllPage(ctx context.Context, who Caller, req ReadRequest, b []byte, n *stateCounts) ([]byte, int, error) {
	evs, err := r.svc.ReadAll(ctx, access(who), req.From, req.Limit, redaction.Filter{Types: req.Types})
	if err != nil {
		return b, 0, err
	}
	b, err = appendRedactionPage(b, evs, n)
	return b, len(evs), err
}

type redactionSub struct{ sub *redaction.Subscription }

func (s redactionSub) Next(ctx context.Context) (sdk.Event, error) {
	ev, err := s.sub.Next(ctx)
	if err != nil {
		return sdk.Event{}, err
	}
	return wireEvent(ev), nil
}

func (s redactionSub) Close() { s.sub.Close() }

func (r *redactionCore) Subscribe(ctx context.Context, who Caller, from uint64) (subscription, error) {
	sub, err := r.svc.Subscribe(ctx, access(who), from)
	if err != nil {
		return nil, err
	}
	return redactionSub{sub}, nil
}

// Head is the log head, for the subscription lag metric.
func (r *redactionCore) Head(ctx context.Context) (uint64, error) { return r.svc.Head(ctx) }

func (r *redactionCore) SaveSnapshot(ctx context.Context, who Caller, stream string, req sdk.SnapshotRequest) error {
	return r.svc.SaveSnapshot(ctx, access(who), stream, req.Version, req.Type, req.Data)
}

func (r *redactionCore) LoadSnapshot(ctx context.Context, who Caller, stream string) (sdk.Snapshot, error) {
	snap, err := r.svc.LoadSnapshot(ctx, access(who), stream)
	if err != nil {
		return sdk.Snapshot{}, err
	}
	return wireSnapshot(snap), nil
}

func (r *redactionCore) Export(ctx context.Context, who Caller, subject string) (sdk.SubjectExport, error) {
	x, err := r.svc.Export(ctx, access(who), subject)
	if err != nil {
		return sdk.SubjectExport{}, err
	}
	return wireExport(x), nil
}

func (r *redactionCore) Audit(ctx context.Context, who Caller, q AuditQuery) (sdk.AuditPage, error) {
	page, err := r.svc.Audit(ctx, access(who), redaction.AuditQuery{
		Subject: q.Subject, Principal: q.Principal, Action: q.Action, Purpose: q.Purpose,
		Since: q.Since, Until: q.Until, From: q.From, Limit: q.Limit,
	})
	if err != nil {
		return sdk.AuditPage{}, err
	}
	return wireAuditPage(page), nil
}

func (r *redactionCore) Verify(ctx context.Context, who Caller) (sdk.VerifyResult, error) {
	v, err := r.svc.Verify(ctx, access(who))
	if err != nil {
		return sdk.VerifyResult{}, err
	}
	return sdk.VerifyResult{OK: v.OK, HeadPosition: v.HeadPosition, HeadHash: hex.EncodeToString(v.HeadHash[:]),
		BreakAt: v.BreakAt, Reason: v.Reason}, nil
}
