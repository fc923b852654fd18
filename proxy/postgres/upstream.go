package pgproxy

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Startup parameters that are never passed upstream: qgate sets user and
// database itself, and a replication connection would bypass the SQL gate.
var reservedParams = map[string]bool{"user": true, "database": true, "replication": true}

// unsafeEncodings are client encodings in which a byte of a multibyte
// character can look like an ASCII quote or backslash. qgate analyses SQL
// as UTF-8, so such an encoding could make it see a statement other than
// the one the server runs; sessions never use them.
var unsafeEncodings = map[string]bool{"SJIS": true, "SHIFTJIS": true, "SHIFTJIS2004": true, "MSKANJI": true,
	"BIG5": true, "WIN950": true, "WINDOWS950": true, "GBK": true, "WIN936": true, "WINDOWS936": true,
	"UHC": true, "WIN949": true, "WINDOWS949": true, "GB18030": true, "JOHAB": true}

// safeEncoding reports whether a client_encoding value is safe to analyse
// as UTF-8 (PostgreSQL ignores case, '-' and '_' in encoding names).
func safeEncoding(v string) bool {
	n := strings.ToUpper(strings.NewReplacer("-", "", "_", "", " ", "").Replace(v))
	return !unsafeEncodings[n]
}

// upstreamConn is an authenticated upstream session, taken over from
// pgconn after the login.
type upstreamConn struct {
	conn   net.Conn
	pid    uint32
	key    []byte
	params map[string]string
}

// connectUpstream opens the session's upstream connection with the
// target's credentials and the client's startup parameters.
func (p *Proxy) connectUpstream(ctx context.Context, params map[string]string) (*upstreamConn, error) {
	cfg := p.upstream.Copy()
	cfg.RuntimeParams = make(map[string]string, len(params))
	for k, v := range params {
		if !reservedParams[k] {
			cfg.RuntimeParams[k] = v
		}
	}
	cfg.ConnectTimeout = p.ConnectTimeout
	ctx, cancel := context.WithTimeout(ctx, p.ConnectTimeout)
	defer cancel()
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pc.SyncConn(ctx); err != nil {
		pc.Close(context.Background())
		return nil, err
	}
	hc, err := pc.Hijack()
	if err != nil {
		pc.Close(context.Background())
		return nil, err
	}
	return &upstreamConn{conn: hc.Conn, pid: hc.PID, key: hc.SecretKey, params: hc.ParameterStatuses}, nil
}

// cancelUpstream sends a CancelRequest for the upstream session, on a new
// connection, as libpq does.
func (p *Proxy) cancelUpstream(pid uint32, key []byte) {
	d := net.Dialer{Timeout: p.ConnectTimeout}
	conn, err := d.Dial("tcp", p.Target.Postgres.Address)
	if err != nil {
		p.Logger.Warn("postgres cancel: dial upstream", "target", p.Target.Name, "err", err)
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(p.ConnectTimeout))
	b, err := (&pgproto3.CancelRequest{ProcessID: pid, SecretKey: key}).Encode(nil)
	if err != nil {
		return
	}
	if _, err := conn.Write(b); err != nil {
		return
	}
	// The server closes the connection once it has read the request.
	var one [1]byte
	conn.Read(one[:])
}
