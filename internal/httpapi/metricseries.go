package httpapi

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// The collectors of the request path are looked up once per series and
// then kept: WithLabelValues hashes every label value and takes the vector's
// lock on every call, which per request (and per PII field of a read) is
// work for nothing. A series still appears in /metrics only once it was
// counted, as with a plain WithLabelValues.

// counterSeries is one series of a CounterVec, looked up on first use.
type counterSeries struct {
	vec    *prometheus.CounterVec
	labels []string
	c      atomic.Pointer[prometheus.Counter]
}

func newCounterSeries(vec *prometheus.CounterVec, labels ...string) *counterSeries {
	return &counterSeries{vec: vec, labels: labels}
}

func (s *counterSeries) get() prometheus.Counter {
	if c := s.c.Load(); c != nil {
		return *c
	}
	c := s.vec.WithLabelValues(s.labels...)
	s.c.Store(&c)
	return c
}

// observerSeries is one series of a HistogramVec, looked up on first use.
type observerSeries struct {
	vec    *prometheus.HistogramVec
	labels []string
	o      atomic.Pointer[prometheus.Observer]
}

func newObserverSeries(vec *prometheus.HistogramVec, labels ...string) *observerSeries {
	return &observerSeries{vec: vec, labels: labels}
}

func (s *observerSeries) get() prometheus.Observer {
	if o := s.o.Load(); o != nil {
		return *o
	}
	o := s.vec.WithLabelValues(s.labels...)
	s.o.Store(&o)
	return o
}

// routeSeries holds a route's latency series, one per status code.
type routeSeries struct {
	vec           *prometheus.HistogramVec
	method, route string
	byStatus      [500]atomic.Pointer[prometheus.Observer] // status 100..599
}

func newRouteSeries(vec *prometheus.HistogramVec, method, route string) *routeSeries {
	return &routeSeries{vec: vec, method: method, route: route}
}

// observer returns the latency series of the route for status.
func (r *routeSeries) observer(status int) prometheus.Observer {
	if status < 100 || status > 599 {
		return r.vec.WithLabelValues(r.method, r.route, statusLabel(status))
	}
	p := &r.byStatus[status-100]
	if o := p.Load(); o != nil {
		return *o
	}
	o := r.vec.WithLabelValues(r.method, r.route, strconv.Itoa(status))
	p.Store(&o)
	return o
}
