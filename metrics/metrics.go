// Package metrics holds qgate's Prometheus collectors. Listeners record
// into one *Metrics; the server exposes it on /metrics.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is every collector qgate exports. A nil *Metrics records nothing,
// so tests and tools may leave it out.
type Metrics struct {
	Registry *prometheus.Registry

	requests        *prometheus.CounterVec
	reviewWait      *prometheus.HistogramVec
	upstreamLatency *prometheus.HistogramVec
	authFailures    *prometheus.CounterVec

	// The collectors every call records into, by their labels: looked up
	// in a lock-free map, since a Vec's own lookup hashes the labels byte
	// by byte and takes a shared lock (about 1 % each of a gateway's CPU
	// under load). Label sets are few.
	requestCounters sync.Map // requestKey → prometheus.Counter
	upstreamByName  sync.Map // target → prometheus.Observer
}

// New registers qgate's collectors and the Go runtime's in a new registry.
// auditQueue reports the audit log's queue depth (may be nil).
func New(auditQueue func() int) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qgate_requests_total",
			Help: "Requests by target, decision and outcome (forwarded, refused, held, error).",
		}, []string{"target", "decision", "outcome"}),
		reviewWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "qgate_review_wait_seconds",
			Help:    "Time from a review's creation to its end, by final status.",
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600},
		}, []string{"target", "status"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "qgate_upstream_seconds",
			Help:    "Upstream latency of forwarded requests, to the response headers (HTTP) or command completion (SQL).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"target"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qgate_auth_failures_total",
			Help: "Refused authentications by target and reason.",
		}, []string{"target", "reason"}),
	}
	m.Registry.MustRegister(m.requests, m.reviewWait, m.upstreamLatency, m.authFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if auditQueue != nil {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "qgate_audit_queue_depth",
			Help: "Audit events waiting to be committed.",
		}, func() float64 { return float64(auditQueue()) }))
	}
	return m
}

// Request counts one request's decision and outcome.
func (m *Metrics) Request(target, decision, outcome string) {
	if m == nil {
		return
	}
	k := requestKey{target, decision, outcome}
	c, ok := m.requestCounters.Load(k)
	if !ok {
		c, _ = m.requestCounters.LoadOrStore(k, m.requests.WithLabelValues(target, decision, outcome))
	}
	c.(prometheus.Counter).Inc()
}

// requestKey is the labels of one qgate_requests_total counter.
type requestKey struct{ target, decision, outcome string }

// ReviewWait observes how long a review lasted.
func (m *Metrics) ReviewWait(target, status string, d time.Duration) {
	if m != nil {
		m.reviewWait.WithLabelValues(target, status).Observe(d.Seconds())
	}
}

// Upstream observes one upstream round trip of target.
func (m *Metrics) Upstream(target string, d time.Duration) {
	if m == nil {
		return
	}
	h, ok := m.upstreamByName.Load(target)
	if !ok {
		h, _ = m.upstreamByName.LoadOrStore(target, m.upstreamLatency.WithLabelValues(target))
	}
	h.(prometheus.Observer).Observe(d.Seconds())
}

// AuthFailure counts a refused authentication.
func (m *Metrics) AuthFailure(target, reason string) {
	if m != nil {
		m.authFailures.WithLabelValues(target, reason).Inc()
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
