package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus collectors. No label ever holds a
// subject ID, a stream name or a value: routes are templates
// ("/v1/subjects/:subject/export"), and the other labels come from small
// closed sets (methods, status codes, actions, outcomes, states).
type metrics struct {
	requestDuration *prometheus.HistogramVec // method, route, code
	inFlight        prometheus.Gauge
	eventsAppended  prometheus.Counter
	appendBatches   prometheus.Histogram
	eventsRead      prometheus.Counter
	piiFields       *prometheus.CounterVec // state: revealed, masked, ...
	policyDecisions *prometheus.CounterVec // action, outcome: allow, deny, error
	erasures        *prometheus.CounterVec // outcome
	subscriptions   prometheus.Gauge
	subscriptionLag prometheus.Histogram
	problems        *prometheus.CounterVec // code

	piiFieldsBy [len(piiStates)]*counterSeries
}

// countStates adds a page's PII fields to piivault_pii_fields_total.
func (m *metrics) countStates(n *stateCounts) {
	for i, k := range n {
		if k > 0 {
			m.piiFieldsBy[i].get().Add(float64(k))
		}
	}
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "piivault_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route template and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "piivault_http_requests_in_flight",
			Help: "HTTP requests being served, SSE subscriptions included.",
		}),
		eventsAppended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "piivault_events_appended_total",
			Help: "Events appended through the API.",
		}),
		appendBatches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "piivault_append_batch_events",
			Help:    "Events per append request.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}),
		eventsRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "piivault_events_read_total",
			Help: "Events returned by reads and subscriptions.",
		}),
		piiFields: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "piivault_pii_fields_total",
			Help: "PII fields returned by reads, by resulting state.",
		}, []string{"state"}),
		policyDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "piivault_policy_decisions_total",
			Help: "Request-level policy decisions by action and outcome (allow, deny, error).",
		}, []string{"action", "outcome"}),
		erasures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "piivault_erasures_total",
			Help: "Erasure requests by outcome.",
		}, []string{"outcome"}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "piivault_subscriptions_active",
			Help: "Open SSE subscriptions.",
		}),
		subscriptionLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "piivault_subscription_lag_events",
			Help:    "Positions between the log head and the last event sent to a subscriber, sampled per heartbeat and per sent batch.",
			Buckets: []float64{0, 1, 10, 100, 1000, 10000, 100000, 1000000},
		}),
		problems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "piivault_http_problems_total",
			Help: "Problem responses by stable code.",
		}, []string{"code"}),
	}
	for i, st := range piiStates {
		m.piiFieldsBy[i] = newCounterSeries(m.piiFields, st)
	}
	reg.MustRegister(m.requestDuration, m.inFlight, m.eventsAppended, m.appendBatches, m.eventsRead,
		m.piiFields, m.policyDecisions, m.erasures, m.subscriptions, m.subscriptionLag, m.problems)
	// A registry of the server's own has no process or runtime collectors
	// unless we add them; they are label-free and useful.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
