package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
)

// route is one entry of the route table: the only way a handler is
// registered. A non-public route always names the policy action it needs;
// register refuses one that does not.
type route struct {
	method string
	path   string // gin syntax: /v1/streams/:stream/events
	// action is what the policy is asked before the handler runs.
	action policy.Action
	// resource names what the request touches, from the path only: the body
	// is not read before the policy said yes.
	resource func(c *gin.Context) policy.Resource
	// public routes skip authentication and authorization. Only the
	// operational endpoints are public, and they carry no personal data.
	public bool
	// stream marks a long-lived answer (SSE) that Options.RequestTimeout
	// does not bound.
	stream  bool
	handler gin.HandlerFunc
}

// Stream name the $all reads and the subscription ask the policy about.
const streamAll = redaction.StreamAll

func byStream(c *gin.Context) policy.Resource  { return policy.Resource{Stream: c.Param("stream")} }
func bySubject(c *gin.Context) policy.Resource { return policy.Resource{Subject: c.Param("subject")} }
func byType(c *gin.Context) policy.Resource    { return policy.Resource{EventType: c.Param("eventType")} }
func allStreams(*gin.Context) policy.Resource  { return policy.Resource{Stream: streamAll} }
func noResource(*gin.Context) policy.Resource  { return policy.Resource{} }

// routeTable is the HTTP contract. Keep it in the order of the contract
// table in ARCHITECTURE.md, and keep openapi.json in step (a test checks).
func (s *Server) routeTable() []route {
	return []route{
		{method: http.MethodPut, path: "/v1/schemas/:eventType", action: policy.ActionAdmin, resource: byType, handler: s.putSchema},
		{method: http.MethodGet, path: "/v1/schemas", action: policy.ActionAdmin, resource: noResource, handler: s.listSchemas},
		{method: http.MethodGet, path: "/v1/schemas/:eventType", action: policy.ActionAdmin, resource: byType, handler: s.getSchema},

		{method: http.MethodPost, path: "/v1/streams/:stream/events", action: policy.ActionAppend, resource: byStream, handler: s.appendEvents},
		{method: http.MethodGet, path: "/v1/streams/:stream/events", action: policy.ActionRead, resource: byStream, handler: s.readStream},
		{method: http.MethodGet, path: "/v1/events", action: policy.ActionRead, resource: allStreams, handler: s.readAll},
		{method: http.MethodGet, path: "/v1/subscribe", action: policy.ActionSubscribe, resource: allStreams, stream: true, handler: s.subscribe},

		{method: http.MethodPut, path: "/v1/streams/:stream/snapshot", action: policy.ActionAppend, resource: byStream, handler: s.putSnapshot},
		{method: http.MethodGet, path: "/v1/streams/:stream/snapshot", action: policy.ActionRead, resource: byStream, handler: s.getSnapshot},

		{method: http.MethodPost, path: "/v1/subjects/:subject/erasure", action: policy.ActionErase, resource: bySubject, handler: s.erase},
		{method: http.MethodGet, path: "/v1/erasures/:id", action: policy.ActionErase, resource: noResource, handler: s.getErasure},
		{method: http.MethodGet, path: "/v1/erasures", action: policy.ActionErase, resource: noResource, handler: s.listErasures},
		{method: http.MethodGet, path: "/v1/subjects/:subject/hold", action: policy.ActionErase, resource: bySubject, handler: s.getHold},
		{method: http.MethodPut, path: "/v1/subjects/:subject/hold", action: policy.ActionErase, resource: bySubject, handler: s.changeHold(true)},
		{method: http.MethodDelete, path: "/v1/subjects/:subject/hold", action: policy.ActionErase, resource: bySubject, handler: s.changeHold(false)},
		{method: http.MethodPost, path: "/v1/subjects/search", action: policy.ActionExport, resource: noResource, handler: s.searchSubjects},
		{method: http.MethodGet, path: "/v1/subjects", action: policy.ActionExport, resource: noResource, handler: s.findSubjects},
		{method: http.MethodGet, path: "/v1/holds", action: policy.ActionErase, resource: noResource, handler: s.listHolds},
		{method: http.MethodPost, path: "/v1/admin/erasures/advance", action: policy.ActionAdmin, resource: noResource, handler: s.advance},
		{method: http.MethodPost, path: "/v1/admin/erasures/purge", action: policy.ActionAdmin, resource: noResource, handler: s.purgeNow},
		{method: http.MethodPost, path: "/v1/admin/retention/run", action: policy.ActionAdmin, resource: noResource, handler: s.runRetention},
		{method: http.MethodGet, path: "/v1/subjects/:subject/export", action: policy.ActionExport, resource: bySubject, handler: s.export},
		{method: http.MethodGet, path: "/v1/audit", action: policy.ActionAudit, resource: auditResource, handler: s.audit},
		{method: http.MethodGet, path: "/v1/admin/keys", action: policy.ActionAdmin, resource: noResource, handler: s.keyVersion},
		{method: http.MethodGet, path: "/v1/log/verify", action: policy.ActionAdmin, resource: noResource, handler: s.verify},
		{method: http.MethodGet, path: "/v1/policy/matrix", action: policy.ActionAudit, resource: noResource, handler: s.policyMatrix},

		{method: http.MethodGet, path: "/healthz", public: true, handler: s.healthz},
		{method: http.MethodGet, path: "/readyz", public: true, handler: s.readyz},
		{method: http.MethodGet, path: "/metrics", public: true, handler: s.metricsHandler()},
		{method: http.MethodGet, path: "/openapi.json", public: true, handler: s.openapi},
		{method: http.MethodGet, path: "/v1/receipts/public-key", public: true, handler: s.receiptKey},
	}
}

// auditResource lets a policy scope audit reads to a subject.
func auditResource(c *gin.Context) policy.Resource {
	return policy.Resource{Subject: c.Query("subject")}
}

// register installs the table. A route that is neither public nor names a
// valid action is a programming error and panics at construction, so it
// can never serve.
func (s *Server) register(routes []route) {
	for _, rt := range routes {
		if !rt.public && (!rt.action.Valid() || rt.resource == nil) {
			panic("httpapi: route " + rt.method + " " + rt.path + " has no policy action")
		}
		rs := newRouteSeries(s.metrics.requestDuration, rt.method, rt.path)
		chain := []gin.HandlerFunc{func(c *gin.Context) {
			ri := infoOf(c)
			ri.route, ri.public = rs, rt.public
		}}
		if !rt.public {
			chain = append(chain, s.authenticate, s.authorize(rt.action, rt.resource))
		}
		if !rt.stream {
			chain = append(chain, s.deadline)
		}
		chain = append(chain, rt.handler)
		s.engine.Handle(rt.method, rt.path, chain...)
	}
	s.routes = routes
}

// deadline bounds the work of an ordinary request: the http.Server has no
// WriteTimeout (SSE), so a handler stuck on a slow vault would otherwise
// hold its connection for ever. The context deadline reaches the stores.
func (s *Server) deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.opts.RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}
