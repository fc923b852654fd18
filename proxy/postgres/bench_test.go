package pgproxy_test

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/audit"
	pgproxy "github.com/qgate/qgate/proxy/postgres"
)

// BenchmarkProxy runs pgbench's select-only statement (a point SELECT by
// primary key, a new literal each time) over several parallel connections,
// directly against the test server and through qgate with each audit
// durability, in simple and extended protocol. Client, proxy and server
// share the machine, so the figures are for comparisons within one run
// and for profiles (-cpuprofile); scripts/bench/pg.sh measures qgate as
// users run it.
func BenchmarkProxy(b *testing.B) {
	for _, mode := range []struct {
		name string
		exec pgx.QueryExecMode
	}{{"simple", pgx.QueryExecModeSimpleProtocol}, {"prepared", pgx.QueryExecModeCacheStatement}} {
		for _, target := range []string{"direct", "sync", "async", "nodisk"} {
			b.Run(mode.name+"/"+target, func(b *testing.B) {
				benchProxy(b, target, mode.exec)
			})
		}
	}
}

// discardAuditor accepts every event and writes nothing: qgate's path
// without the audit store, to see what the store costs.
type discardAuditor struct{}

func (discardAuditor) Append(context.Context, *qgate.AuditEvent) error { return nil }

func benchProxy(b *testing.B, target string, mode pgx.QueryExecMode) {
	ctx := context.Background()
	var eo envOptions
	if target == "async" {
		eo.durability = audit.DurabilityAsync
	}
	var opts []func(*pgproxy.Proxy)
	if target == "nodisk" {
		opts = append(opts, func(p *pgproxy.Proxy) { p.Audit = discardAuditor{} })
	}
	e := newEnvWith(b, eo, opts...)
	e.exec(`CREATE TABLE bench_accounts (aid int PRIMARY KEY, abalance int);
		INSERT INTO bench_accounts SELECT g, 0 FROM generate_series(1, 100000) g`)
	connect := func() *pgx.Conn {
		cs := e.connString(e.tokenID, e.token)
		if target == "direct" {
			cs = e.dsn
		}
		cfg, err := pgx.ParseConfig(cs)
		if err != nil {
			b.Fatal(err)
		}
		cfg.DefaultQueryExecMode = mode
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	conns := 8
	if n, err := strconv.Atoi(os.Getenv("QGATE_BENCH_CONNS")); err == nil && n > 0 {
		conns = n
	}
	pool := make(chan *pgx.Conn, conns)
	for range conns {
		pool <- connect()
	}
	b.SetParallelism(max(1, conns/runtime.GOMAXPROCS(0))) // GOMAXPROCS × this goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := <-pool
		defer func() { pool <- c }()
		var bal int
		for pb.Next() {
			aid := rand.IntN(100000) + 1
			sql := "SELECT abalance FROM bench_accounts WHERE aid = " + strconv.Itoa(aid)
			var err error
			if mode == pgx.QueryExecModeSimpleProtocol {
				err = c.QueryRow(ctx, sql).Scan(&bal)
			} else {
				err = c.QueryRow(ctx, "SELECT abalance FROM bench_accounts WHERE aid = $1", aid).Scan(&bal)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
