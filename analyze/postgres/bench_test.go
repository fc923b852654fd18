package postgres

import (
	"strconv"
	"strings"
	"testing"
)

// analytic40 is a realistic 40-line reporting query: CTEs, joins, window
// functions, GROUP BY, a subquery and date arithmetic.
const analytic40 = `WITH recent_orders AS (
    SELECT o.id, o.customer_id, o.created_at, o.total_cents, o.status
    FROM sales.orders o
    WHERE o.created_at >= now() - interval '90 days'
      AND o.status IN ('paid', 'shipped', 'delivered')
),
customer_totals AS (
    SELECT r.customer_id,
           count(*) AS order_count,
           sum(r.total_cents) AS revenue_cents,
           max(r.created_at) AS last_order_at FROM recent_orders r
    GROUP BY r.customer_id
),
ranked AS (
    SELECT ct.*,
           rank() OVER (ORDER BY ct.revenue_cents DESC) AS revenue_rank,
           ntile(4) OVER (ORDER BY ct.order_count) AS order_quartile,
           lag(ct.revenue_cents) OVER (ORDER BY ct.revenue_cents DESC) AS prev_revenue
    FROM customer_totals ct
)
SELECT c.id,
       lower(c.email) AS email,
       coalesce(c.company, '-') AS company,
       rk.order_count,
       round(rk.revenue_cents / 100.0, 2) AS revenue,
       rk.revenue_rank,
       rk.order_quartile,
       date_trunc('week', rk.last_order_at) AS last_order_week,
       (SELECT count(*) FROM support.tickets t
         WHERE t.customer_id = c.id AND t.opened_at > now() - interval '30 days') AS open_tickets,
       string_agg(DISTINCT p.category, ', ' ORDER BY p.category) AS categories
FROM ranked rk
JOIN public.customers c ON c.id = rk.customer_id
LEFT JOIN recent_orders ro ON ro.customer_id = c.id
LEFT JOIN sales.order_items oi ON oi.order_id = ro.id
LEFT JOIN catalog.products p ON p.id = oi.product_id
WHERE c.deleted_at IS NULL AND rk.revenue_rank <= 100
GROUP BY c.id, c.email, c.company, rk.order_count, rk.revenue_cents, rk.revenue_rank, rk.order_quartile, rk.last_order_at
ORDER BY rk.revenue_rank
LIMIT 100`

func TestAnalytic40(t *testing.T) {
	if n := strings.Count(analytic40, "\n") + 1; n != 40 {
		t.Fatalf("analytic40 has %d lines", n)
	}
	got := New(Options{}).AnalyzeSQL(analytic40)
	checkInvariants(t, got)
	if !got.ReadOnly || got.ParseError != "" {
		t.Fatalf("analytic query: read-only %v, findings %v, parse error %q", got.ReadOnly, codes(got), got.ParseError)
	}
	want := []string{"sales.orders", "support.tickets", "public.customers", "sales.order_items", "catalog.products"}
	for _, w := range want {
		if !strings.Contains(strings.Join(got.Tables, ","), w) {
			t.Errorf("Tables = %v, missing %s", got.Tables, w)
		}
	}
	if len(got.Tables) != len(want) {
		t.Errorf("Tables = %v, want the %d real tables (no CTE names)", got.Tables, len(want))
	}
}

// texts returns n distinct texts of the same shape.
func pgbenchTexts(n int) []string {
	texts := make([]string, n)
	for i := range texts {
		texts[i] = "SELECT abalance FROM pgbench_accounts WHERE aid = " + strconv.Itoa(1000000+i*7919)
	}
	return texts
}

func analyticTexts(n int) []string {
	texts := make([]string, n)
	for i := range texts {
		texts[i] = strings.Replace(analytic40, "<= 100", "<= "+strconv.Itoa(100+i), 1)
	}
	return texts
}

func BenchmarkAnalyze(b *testing.B) {
	noCache := Options{CacheSize: -1, ShapeCacheSize: -1}
	run := func(name string, opts Options, texts []string) {
		b.Run(name, func(b *testing.B) {
			a := New(opts)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				a.AnalyzeSQL(texts[i%len(texts)])
				i++
			}
		})
	}
	// More distinct texts than the exact cache holds, so that "shape" runs
	// miss the exact cache and hit the shape cache.
	pgbench := pgbenchTexts(3 * defaultCacheSize)
	analytic := analyticTexts(3 * defaultCacheSize)

	run("pgbench_select_uncached", noCache, pgbench)
	run("pgbench_select_exact", Options{}, pgbench[:1])
	run("pgbench_select_shape", Options{}, pgbench)
	run("analytic_40_lines_uncached", noCache, analytic)
	run("analytic_40_lines_cached", Options{}, analytic[:1])
	run("analytic_40_lines_shape", Options{}, analytic)
}
