package pgproxy_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// fuzzEnd is the query appended to every well-framed input: once its row
// arrives, qgate has handled everything before it.
const fuzzEnd = "ROLLBACK; SELECT 'qgate-fuzz-end'"

// fuzzMaxMessage is the proxy's message size limit in the fuzz target.
const fuzzMaxMessage = 1 << 16

// FuzzClientMessages sends arbitrary bytes after a successful login, then
// (when the bytes are whole messages) a Sync and a marker query, and reads
// qgate's answers to the end. Every held statement is rejected. Each input
// must finish within seconds, with the session gone from the upstream
// afterwards, and nothing it sends may change what the policy protects:
// the secrets table is denied, writes to accounts are held (and rejected
// here).
func FuzzClientMessages(f *testing.F) {
	enc := func(msgs ...pgproto3.FrontendMessage) []byte {
		var b []byte
		for _, m := range msgs {
			b, _ = m.Encode(b)
		}
		return b
	}
	type fm = pgproto3.FrontendMessage
	q := func(s string) fm { return &pgproto3.Query{String: s} }
	pbe := func(sql string, params ...[]byte) []fm {
		return []fm{&pgproto3.Parse{Query: sql}, &pgproto3.Bind{Parameters: params}, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}}
	}
	cat := func(parts ...[]fm) []byte {
		var all []fm
		for _, p := range parts {
			all = append(all, p...)
		}
		return enc(all...)
	}
	sync := []fm{&pgproto3.Sync{}}
	for _, seed := range [][]byte{
		enc(q("SELECT 1")),
		enc(q("DELETE FROM secrets")),
		enc(q("")),
		enc(q("SELECT 1; DELETE FROM accounts")),
		enc(q("BEGIN"), q("INSERT INTO notes (body) VALUES ('a')"), q("DELETE FROM secrets"), q("COMMIT")),
		enc(q("PREPARE p AS SELECT 1"), q("EXECUTE p"), q("DEALLOCATE ALL")),
		enc(q("LISTEN ch"), q("SELECT pg_notify('ch', 'x')"), q("SELECT 2")),
		enc(q("SET client_encoding = 'SJIS'")),
		enc(q("COPY notes FROM STDIN"), &pgproto3.CopyData{Data: []byte("1\tx\n")}, &pgproto3.CopyDone{}),
		enc(&pgproto3.CopyData{Data: []byte("x")}, &pgproto3.CopyDone{}, &pgproto3.CopyFail{Message: "no"}, q("SELECT 2")),
		enc(&pgproto3.FunctionCall{Function: 1598, Arguments: [][]byte{}}),
		enc(&pgproto3.Terminate{}),
		cat(pbe("DELETE FROM secrets"), sync),
		cat(pbe("SELECT $1::int + 1", []byte("41")), sync),
		cat(pbe("INSERT INTO notes (body) VALUES ('1')"), pbe("UPDATE accounts SET balance = 0"), pbe("INSERT INTO notes (body) VALUES ('3')"), sync),
		cat(pbe("INSERT INTO notes (body) VALUES ('a')"), pbe("SELECT * FROM secrets"), pbe("INSERT INTO notes (body) VALUES ('b')"), sync),
		enc(&pgproto3.Parse{Name: "s", Query: "SELECT g FROM generate_series(1, 5) g"}, &pgproto3.Describe{ObjectType: 'S', Name: "s"},
			&pgproto3.Bind{DestinationPortal: "p", PreparedStatement: "s"}, &pgproto3.Execute{Portal: "p", MaxRows: 2}, &pgproto3.Flush{},
			&pgproto3.Execute{Portal: "p", MaxRows: 2}, &pgproto3.Close{ObjectType: 'P', Name: "p"}, &pgproto3.Sync{}),
		enc(&pgproto3.Parse{Name: "s", Query: "SELECT 1"}, &pgproto3.Sync{}, &pgproto3.Close{ObjectType: 'S', Name: "s"},
			&pgproto3.Parse{Name: "s", Query: "DELETE FROM secrets"}, &pgproto3.Bind{PreparedStatement: "s"}, &pgproto3.Execute{}, &pgproto3.Sync{}),
		enc(&pgproto3.Parse{Name: "s", Query: "SELECT 1"}, &pgproto3.Parse{Name: "s", Query: "DELETE FROM secrets"},
			&pgproto3.Bind{PreparedStatement: "s"}, &pgproto3.Execute{}, &pgproto3.Sync{}),
		enc(&pgproto3.Bind{PreparedStatement: "nope"}, &pgproto3.Execute{}, &pgproto3.Flush{}, &pgproto3.Sync{}),
		enc(&pgproto3.Execute{Portal: "nope"}, &pgproto3.Sync{}, q("SELECT 3")),
		{'Q', 0, 0, 0, 3},
		{'P', 0, 0, 0, 5, 0},
		{'Q', 0, 0, 1, 0, 'S', 'E', 'L'},
		{'?', 0, 0, 0, 4},
	} {
		f.Add(seed)
	}
	e := newEnv(f, func(p *pgproxyProxy) { p.MaxMessageSize = fuzzMaxMessage })
	ctx := context.Background()
	// statement_timeout bounds whatever read the input makes the upstream run.
	connString := e.connString(e.tokenID, e.token) + " options='-c statement_timeout=2s'"
	f.Fuzz(func(t *testing.T, data []byte) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		pc, err := pgconn.Connect(cctx, connString)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		hc, err := pc.Hijack()
		if err != nil {
			t.Fatal(err)
		}
		c := hc.Conn
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		whole := framed(data, fuzzMaxMessage)
		go func() {
			c.Write(data)
			if whole {
				b, _ := (&pgproto3.Sync{}).Encode(nil)
				b, _ = (&pgproto3.Query{String: fuzzEnd}).Encode(b)
				c.Write(b)
			} else if tc, ok := c.(interface{ CloseWrite() error }); ok {
				// A partial message: qgate waits for the rest, which the
				// end of the stream ends.
				tc.CloseWrite()
			}
		}()
		if err := e.drainFuzz(t, c); err != nil {
			t.Fatalf("input %q: %v", data, err)
		}
		c.Close()
		// The session ends with the client, and holds nothing upstream.
		deadline := time.Now().Add(5 * time.Second)
		count := func(sql string) int {
			var n int
			if err := e.direct.QueryRow(ctx, sql).Scan(&n); err != nil {
				t.Fatalf("direct %q: %v", sql, err)
			}
			return n
		}
		for count(upstreamSessionsSQL) != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("input %q: the upstream session outlived the client", data)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if n := count("SELECT count(*) FROM secrets WHERE v = 's3cret'"); n != 1 {
			t.Fatalf("input %q: the secrets table changed", data)
		}
		if n := count("SELECT count(*) FROM accounts WHERE balance = 100"); n != 10 {
			t.Fatalf("input %q: accounts changed without approval", data)
		}
	})
}

// drainFuzz reads qgate's answers until the marker query's row and its
// ReadyForQuery, or the end of the connection. It rejects every review it
// is told about.
func (e *env) drainFuzz(t *testing.T, c net.Conn) error {
	fe := pgproto3.NewFrontend(c, nil)
	marker := false
	for {
		msg, err := fe.Receive()
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return fmt.Errorf("no answer within 10s: %w", err)
		case err != nil:
			return nil // qgate ended the session
		}
		switch m := msg.(type) {
		case *pgproto3.NoticeResponse:
			var id int64
			if _, err := fmt.Sscanf(m.Message, "waiting for approval: review %d,", &id); err == nil {
				// It may have expired already.
				e.reviews.Reject(context.Background(), id, e.voter("bob"), "fuzz")
			}
		case *pgproto3.DataRow:
			marker = len(m.Values) == 1 && string(m.Values[0]) == "qgate-fuzz-end"
		case *pgproto3.ReadyForQuery:
			if marker {
				return nil
			}
		case *pgproto3.ErrorResponse:
			if strings.HasPrefix(m.Code, "XX") && strings.Contains(m.Message, "qgate") {
				return fmt.Errorf("internal error: %s", m.Message)
			}
		}
	}
}

// framed reports whether data is a sequence of whole messages whose
// lengths qgate accepts.
func framed(data []byte, max int) bool {
	for len(data) > 0 {
		if len(data) < 5 {
			return false
		}
		n := int(binary.BigEndian.Uint32(data[1:5]))
		if n < 4 || n-4 > max || len(data) < 1+n {
			return false
		}
		data = data[1+n:]
	}
	return true
}
