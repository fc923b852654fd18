package pgproxy_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// FuzzClientMessages sends arbitrary bytes after a successful login. The
// gateway must neither crash nor forward a statement it did not decide:
// the policy denies the secrets table, so no input may change it.
func FuzzClientMessages(f *testing.F) {
	enc := func(msgs ...pgproto3.FrontendMessage) []byte {
		var b []byte
		for _, m := range msgs {
			b, _ = m.Encode(b)
		}
		return b
	}
	f.Add(enc(&pgproto3.Query{String: "SELECT 1"}))
	f.Add(enc(&pgproto3.Query{String: "DELETE FROM secrets"}))
	f.Add(enc(&pgproto3.Parse{Query: "DELETE FROM secrets"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{}))
	f.Add(enc(&pgproto3.Parse{Name: "s", Query: "SELECT 1"}, &pgproto3.Sync{}, &pgproto3.Close{ObjectType: 'S', Name: "s"},
		&pgproto3.Parse{Name: "s", Query: "DELETE FROM secrets"}, &pgproto3.Bind{PreparedStatement: "s"}, &pgproto3.Execute{}, &pgproto3.Sync{}))
	f.Add(enc(&pgproto3.Bind{PreparedStatement: "nope"}, &pgproto3.Execute{}, &pgproto3.Flush{}, &pgproto3.Sync{}))
	f.Add(enc(&pgproto3.CopyData{Data: []byte("x")}, &pgproto3.CopyDone{}, &pgproto3.Query{String: "SELECT 2"}))
	f.Add([]byte{'Q', 0, 0, 0, 3})
	f.Add([]byte{'P', 0, 0, 0, 5, 0})
	e := newEnv(f, func(p *pgproxyProxy) { p.MaxMessageSize = 1 << 16 })
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		pc, err := pgconn.Connect(ctx, e.connString(e.tokenID, e.token))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		hc, err := pc.Hijack()
		if err != nil {
			t.Fatal(err)
		}
		c := hc.Conn
		defer c.Close()
		c.SetDeadline(time.Now().Add(300 * time.Millisecond))
		c.Write(data)
		c.Write([]byte{'S', 0, 0, 0, 4})
		var sink [4096]byte
		for {
			if _, err := c.Read(sink[:]); err != nil {
				break
			}
		}
		c.Close()
		var n int
		if err := e.direct.QueryRow(ctx, "SELECT count(*) FROM secrets WHERE v = 's3cret'").Scan(&n); err != nil || n != 1 {
			t.Fatalf("the secrets table changed: %d, %v", n, err)
		}
	})
}
