package compliance

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exports Stats as Prometheus gauges. No label carries an
// identifier.
type collector struct {
	s                                                          *Service
	open, overdue, near, completed, late, rejected, holds, age *prometheus.Desc
}

// Collector returns a prometheus.Collector of the workflow's counts:
//
//	piivault_erasures_open, piivault_erasures_overdue, piivault_erasures_near_deadline,
//	piivault_erasures_completed, piivault_erasures_completed_late, piivault_erasures_rejected,
//	piivault_legal_holds_active, piivault_erasure_oldest_open_age_seconds
//
// Register it on the sidecar's registry: reg.MustRegister(svc.Collector()).
func (s *Service) Collector() prometheus.Collector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &collector{s: s,
		open:      d("piivault_erasures_open", "Erasure requests not yet completed (requested, erased or purged)."),
		overdue:   d("piivault_erasures_overdue", "Open erasure requests past their deadline (GDPR Art. 12(3))."),
		near:      d("piivault_erasures_near_deadline", "Open erasure requests within the near-deadline window of their deadline."),
		completed: d("piivault_erasures_completed", "Completed erasures (receipt signed)."),
		late:      d("piivault_erasures_completed_late", "Erasures completed after their deadline."),
		rejected:  d("piivault_erasures_rejected", "Erasure requests rejected (legal hold)."),
		holds:     d("piivault_legal_holds_active", "Subjects under legal hold."),
		age:       d("piivault_erasure_oldest_open_age_seconds", "Age of the oldest open erasure request (0 if none)."),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.overdue, c.near, c.completed, c.late, c.rejected, c.holds, c.age} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.s.Stats(ctx)
	if err != nil {
		c.s.lg.Warn("erasure metrics unavailable", logKeyErr, err.Error())
		return
	}
	age := 0.0
	if !st.OldestOpen.IsZero() {
		age = c.s.opts.Now().Sub(st.OldestOpen).Seconds()
	}
	for _, m := range []struct {
		d *prometheus.Desc
		v float64
	}{{c.open, float64(st.Open)}, {c.overdue, float64(st.Overdue)}, {c.near, float64(st.NearDeadline)},
		{c.completed, float64(st.Completed)}, {c.late, float64(st.Late)}, {c.rejected, float64(st.Rejected)},
		{c.holds, float64(st.ActiveHolds)}, {c.age, age}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.GaugeValue, m.v)
	}
}
