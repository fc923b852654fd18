package metrics

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func TestRequest_CountsByLabels(t *testing.T) {
	m := New(nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				m.Request("api", "allow", "forwarded")
			}
		}()
	}
	wg.Wait()
	m.Request("api", "deny", "refused")
	m.Request("db", "allow", "forwarded")

	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"api", "allow", "forwarded"}, 400},
		{[]string{"api", "deny", "refused"}, 1},
		{[]string{"db", "allow", "forwarded"}, 1},
		{[]string{"db", "deny", "refused"}, 0},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("qgate_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	// What /metrics shows: the three label sets counted, nothing else.
	want := `
# HELP qgate_requests_total Requests by target, decision and outcome (forwarded, refused, held, error).
# TYPE qgate_requests_total counter
qgate_requests_total{decision="allow",outcome="forwarded",target="api"} 400
qgate_requests_total{decision="allow",outcome="forwarded",target="db"} 1
qgate_requests_total{decision="deny",outcome="refused",target="api"} 1
qgate_requests_total{decision="deny",outcome="refused",target="db"} 0
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "qgate_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestNilMetrics_RecordNothing(t *testing.T) {
	var m *Metrics
	m.Request("api", "allow", "forwarded")
	m.ReviewWait("api", "approved", time.Second)
	m.AuthFailure("api", "expired")
	m.Upstream("api", time.Millisecond)
}

func TestUpstream_ObservesByTarget(t *testing.T) {
	m := New(nil)
	if n := testutil.CollectAndCount(m.upstreamLatency); n != 0 {
		t.Fatalf("%d series before any call", n)
	}
	for range 3 {
		m.Upstream("api", 2*time.Millisecond)
	}
	m.Upstream("db", time.Second)
	if n := testutil.CollectAndCount(m.upstreamLatency); n != 2 {
		t.Fatalf("%d series, want one per target", n)
	}
	for _, c := range []struct {
		target string
		count  int
		sum    float64
	}{{"api", 3, 0.006}, {"db", 1, 1}} {
		h := m.upstreamLatency.WithLabelValues(c.target).(prometheus.Histogram)
		var pb dto.Metric
		if err := h.Write(&pb); err != nil {
			t.Fatal(err)
		}
		got := pb.GetHistogram()
		if int(got.GetSampleCount()) != c.count || math.Abs(got.GetSampleSum()-c.sum) > 1e-9 {
			t.Errorf("qgate_upstream_seconds{target=%q}: count %d sum %v, want %d and %v",
				c.target, got.GetSampleCount(), got.GetSampleSum(), c.count, c.sum)
		}
	}
}

// BenchmarkRequest is one call's count, from many goroutines at once as
// under load.
//
//	go test -run '^$' -bench Request ./metrics
func BenchmarkRequest(b *testing.B) {
	m := New(nil)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("bench-api", "allow", "forwarded")
		}
	})
}

// BenchmarkUpstream is one call's upstream latency, from many goroutines.
//
//	go test -run '^$' -bench Upstream ./metrics
func BenchmarkUpstream(b *testing.B) {
	m := New(nil)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Upstream("bench-api", time.Millisecond)
		}
	})
}
