package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/piivault/piivault/internal/jsonvalid"
	"github.com/piivault/piivault/sdk"
)

func callerOf(c *gin.Context) Caller {
	ri := infoOf(c)
	return Caller{Principal: ri.principal, Purpose: ri.purpose, RequestID: ri.id, decision: ri.decision}
}

func (s *Server) decode(c *gin.Context, dst any) bool {
	if err := decodeJSON(c.Writer, c.Request, s.opts.MaxBodyBytes, dst); err != nil {
		s.fail(c, err)
		return false
	}
	return true
}

func (s *Server) putSchema(c *gin.Context) {
	eventType := c.Param("eventType")
	var sc sdk.Schema
	if !s.decode(c, &sc) {
		return
	}
	if sc.EventType != "" && sc.EventType != eventType {
		s.fail(c, badRequest(sdk.CodeBadRequest, "eventType in the body differs from the path"))
		return
	}
	sc.EventType = eventType
	out, err := s.core.PutSchema(c.Request.Context(), callerOf(c), eventType, sc)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getSchema(c *gin.Context) {
	out, err := s.core.GetSchema(c.Request.Context(), callerOf(c), c.Param("eventType"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) listSchemas(c *gin.Context) {
	out, err := s.core.ListSchemas(c.Request.Context(), callerOf(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	if out == nil {
		out = []sdk.Schema{}
	}
	c.JSON(http.StatusOK, sdk.SchemaList{Schemas: out})
}

func (s *Server) appendEvents(c *gin.Context) {
	var req sdk.AppendRequest
	b, err := readBody(c.Writer, c.Request, s.opts.MaxBodyBytes)
	if err == nil {
		err = decodeAppend(b, &req)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	ids, err := validateAppend(&req)
	if err != nil {
		s.fail(c, err)
		return
	}
	res, err := s.core.Append(c.Request.Context(), callerOf(c), c.Param("stream"), req, ids)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.metrics.eventsAppended.Add(float64(len(req.Events)))
	s.metrics.appendBatches.Observe(float64(len(req.Events)))
	var buf [128]byte
	writeJSON(c, http.StatusCreated, appendAppendResult(buf[:0], res))
}

// writeJSON answers status with the JSON in b in one write. A large answer
// gets its length declared, so that net/http sends it as it is rather than
// in chunks; a small one net/http measures itself.
func writeJSON(c *gin.Context, status int, b []byte) {
	h := c.Writer.Header()
	h["Content-Type"] = hdrJSON
	if len(b) > 2048 {
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
	}
	c.Status(status)
	_, _ = c.Writer.Write(b)
}

// validateAppend checks the shape the wire types cannot: at least one
// event, a type and a data object on each, IDs that are UUIDs. It returns
// the parsed IDs (nil if no event has one), so that nothing below parses
// them again.
func validateAppend(req *sdk.AppendRequest) ([]uuid.UUID, error) {
	if len(req.Events) == 0 {
		return nil, badRequest(sdk.CodeBadRequest, "events: want at least one event")
	}
	var ids []uuid.UUID
	for i, ev := range req.Events {
		if strings.TrimSpace(ev.Type) == "" {
			return nil, badRequest(sdk.CodeBadRequest, "events[%d].type: required", i)
		}
		if !isJSONObject(ev.Data) {
			return nil, badRequest(sdk.CodeBadRequest, "events[%d].data: want a JSON object", i)
		}
		if len(ev.Metadata) > 0 && string(ev.Metadata) != "null" && !isJSONObject(ev.Metadata) {
			return nil, badRequest(sdk.CodeBadRequest, "events[%d].metadata: want a JSON object", i)
		}
		// A duplicated name means one thing to this parser (the last wins)
		// and another to a reader that keeps the first: the values could be
		// filed under one subject and the event read as another's.
		if !jsonvalid.UniqueKeys(ev.Data) {
			return nil, badRequest(sdk.CodeInvalidJSON, "events[%d].data: an object names a member twice", i)
		}
		if len(ev.Metadata) > 0 && !jsonvalid.UniqueKeys(ev.Metadata) {
			return nil, badRequest(sdk.CodeInvalidJSON, "events[%d].metadata: an object names a member twice", i)
		}
		if ev.ID != "" {
			id, err := uuid.Parse(ev.ID)
			if err != nil {
				return nil, badRequest(sdk.CodeBadRequest, "events[%d].id: want a UUID", i)
			}
			if id == uuid.Nil {
				// The zero ID means "no ID" below; as a client's ID it would
				// silently turn idempotency off.
				return nil, badRequest(sdk.CodeBadRequest, "events[%d].id: the nil UUID is not an event ID (omit id for none)", i)
			}
			if ids == nil {
				ids = make([]uuid.UUID, len(req.Events))
			}
			ids[i] = id
		}
	}
	return ids, nil
}

// isJSONObject reports whether raw (already valid JSON, decoded by
// encoding/json) is an object.
func isJSONObject(raw []byte) bool {
	for _, b := range raw {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

func (s *Server) readRequest(c *gin.Context, backwardAllowed bool) (ReadRequest, error) {
	var rr ReadRequest
	var err error
	if rr.From, err = queryUint(c.Request, "from", 0); err != nil {
		return rr, err
	}
	if rr.Limit, err = pageLimit(c.Request, s.opts.DefaultPageSize, s.opts.MaxPageSize); err != nil {
		return rr, err
	}
	switch d := c.Query("direction"); d {
	case "", "forward":
	case "backward":
		if !backwardAllowed {
			return rr, badRequest(sdk.CodeBadRequest, "query parameter direction: only forward is supported here")
		}
		rr.Backward = true
	default:
		return rr, badRequest(sdk.CodeBadRequest, "query parameter direction: want forward or backward")
	}
	return rr, nil
}

func (s *Server) readStream(c *gin.Context) {
	rr, err := s.readRequest(c, true)
	if err != nil {
		s.fail(c, err)
		return
	}
	if pa, ok := s.core.(pageAppender); ok {
		s.writePage(c, func(b []byte, n *stateCounts) ([]byte, int, error) {
			return pa.appendStreamPage(c.Request.Context(), callerOf(c), c.Param("stream"), rr, b, n)
		})
		return
	}
	evs, err := s.core.ReadStream(c.Request.Context(), callerOf(c), c.Param("stream"), rr)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeEvents(c, evs)
}

func (s *Server) readAll(c *gin.Context) {
	rr, err := s.readRequest(c, false)
	if err != nil {
		s.fail(c, err)
		return
	}
	rr.Types = c.QueryArray("type")
	if pa, ok := s.core.(pageAppender); ok {
		s.writePage(c, func(b []byte, n *stateCounts) ([]byte, int, error) {
			return pa.appendAllPage(c.Request.Context(), callerOf(c), rr, b, n)
		})
		return
	}
	evs, err := s.core.ReadAll(c.Request.Context(), callerOf(c), rr)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeEvents(c, evs)
}

func (s *Server) writeEvents(c *gin.Context, evs []sdk.Event) {
	if evs == nil {
		evs = []sdk.Event{}
	}
	var n stateCounts
	for i := range evs {
		n.add(evs[i].PII)
		if evs[i].PII == nil {
			evs[i].PII = []sdk.PIIField{}
		}
	}
	s.metrics.countStates(&n)
	s.metrics.eventsRead.Add(float64(len(evs)))
	bp := pagePool.Get().(*[]byte)
	defer pagePool.Put(bp)
	b, err := appendEventsPage((*bp)[:0], evs)
	if err != nil {
		s.fail(c, err)
		return
	}
	*bp = b
	writeJSON(c, http.StatusOK, b)
}

// writePage answers with the page that appendPage writes into a pooled
// buffer, in one write.
func (s *Server) writePage(c *gin.Context, appendPage func(b []byte, n *stateCounts) ([]byte, int, error)) {
	bp := pagePool.Get().(*[]byte)
	defer pagePool.Put(bp)
	var n stateCounts
	b, events, err := appendPage((*bp)[:0], &n)
	if err != nil {
		s.fail(c, err)
		return
	}
	*bp = b
	s.metrics.countStates(&n)
	s.metrics.eventsRead.Add(float64(events))
	writeJSON(c, http.StatusOK, b)
}

// pagePool recycles the buffers pages are encoded into.
var pagePool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (s *Server) countFields(fs []sdk.PIIField) {
	var n stateCounts
	n.add(fs)
	s.metrics.countStates(&n)
}

// piiStates are the label values of piivault_pii_fields_total; "other"
// keeps the label set closed even if a service invents a state.
var piiStates = [...]string{sdk.StateRevealed, sdk.StateMasked, sdk.StateTokenized, sdk.StateErased,
	sdk.StateDenied, sdk.StateUnavailable, sdk.StateExpired, "other"}

// stateCounts counts a page's PII fields by state, to add them to the
// metric once per state rather than once per field.
type stateCounts [len(piiStates)]int

func (n *stateCounts) add(fs []sdk.PIIField) {
	for i := range fs {
		n[stateIndex(fs[i].State)]++
	}
}

func stateIndex(st string) int {
	switch st {
	case sdk.StateRevealed:
		return 0
	case sdk.StateMasked:
		return 1
	case sdk.StateTokenized:
		return 2
	case sdk.StateErased:
		return 3
	case sdk.StateDenied:
		return 4
	case sdk.StateUnavailable:
		return 5
	case sdk.StateExpired:
		return 6
	}
	return len(piiStates) - 1
}

func (s *Server) putSnapshot(c *gin.Context) {
	var req sdk.SnapshotRequest
	if !s.decode(c, &req) {
		return
	}
	if req.Version == 0 {
		s.fail(c, badRequest(sdk.CodeBadRequest, "version: want a stream version of at least 1"))
		return
	}
	if len(req.Data) == 0 || string(req.Data) == "null" {
		s.fail(c, badRequest(sdk.CodeBadRequest, "data: required"))
		return
	}
	if err := s.core.SaveSnapshot(c.Request.Context(), callerOf(c), c.Param("stream"), req); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) getSnapshot(c *gin.Context) {
	snap, err := s.core.LoadSnapshot(c.Request.Context(), callerOf(c), c.Param("stream"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.countFields(snap.PII)
	c.JSON(http.StatusOK, snap)
}

func (s *Server) erase(c *gin.Context) {
	var req sdk.ErasureRequest
	// The body is optional: an erasure needs only the subject.
	if c.Request.ContentLength != 0 {
		b, err := readBody(c.Writer, c.Request, s.opts.MaxBodyBytes)
		if err != nil {
			s.fail(c, err)
			return
		}
		if len(strings.TrimSpace(string(b))) > 0 {
			if err := unmarshalStrict(b, &req); err != nil {
				s.fail(c, err)
				return
			}
		}
	}
	if !s.needFlow(c) {
		return
	}
	s.requestErasure(c, c.Param("subject"), req)
}

func (s *Server) getErasure(c *gin.Context) {
	if !s.needFlow(c) {
		return
	}
	e, err := s.flow.Get(c.Request.Context(), access(callerOf(c)), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireErasure(e))
}

func (s *Server) export(c *gin.Context) {
	format := c.Query("format")
	if format != "" && format != "json" && format != "csv" {
		s.fail(c, badRequest(sdk.CodeBadRequest, "query parameter format: want json or csv"))
		return
	}
	out, err := s.core.Export(c.Request.Context(), callerOf(c), c.Param("subject"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if out.Values == nil {
		out.Values = []sdk.ExportValue{}
	}
	if out.Events == nil {
		out.Events = []sdk.ExportEventRef{}
	}
	c.Header("Cache-Control", "no-store")
	if format == "csv" {
		b, err := exportZip(out, time.Now())
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Content-Disposition", `attachment; filename="export.zip"`)
		c.Data(http.StatusOK, "application/zip", b)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) audit(c *gin.Context) {
	q := AuditQuery{Subject: c.Query("subject"), Principal: c.Query("principal"), Action: c.Query("action"),
		Purpose: c.Query("purpose")}
	var err error
	if q.Since, err = queryTime(c.Request, "since"); err == nil {
		q.Until, err = queryTime(c.Request, "until")
	}
	if err == nil {
		q.From, err = queryUint(c.Request, "from", 0)
	}
	if err == nil {
		q.Limit, err = pageLimit(c.Request, s.opts.DefaultPageSize, s.opts.MaxPageSize)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	page, err := s.core.Audit(c.Request.Context(), callerOf(c), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	if page.Records == nil {
		page.Records = []sdk.AuditRecord{}
	}
	c.JSON(http.StatusOK, page)
}

func (s *Server) verify(c *gin.Context) {
	res, err := s.core.Verify(c.Request.Context(), callerOf(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}
