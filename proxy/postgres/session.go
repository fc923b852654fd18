package pgproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// run is the client loop: it reads the client's messages until the
// session ends.
func (s *session) run(ctx context.Context) {
	defer s.end()
	for {
		if s.p.IdleTimeout > 0 {
			s.conn.SetReadDeadline(time.Now().Add(s.p.IdleTimeout))
		}
		msg, err := s.be.Receive()
		if err != nil {
			s.readFailed(err)
			return
		}
		var ok bool
		switch m := msg.(type) {
		case *pgproto3.Query:
			if s.ext.skipping {
				ok = true // skipped until Sync, as PostgreSQL does
				break
			}
			ok = s.flushBatch(ctx, 0) && s.simpleQuery(ctx, m.String)
		case *pgproto3.Parse:
			s.parse(m)
			ok = true
		case *pgproto3.Bind:
			ok = s.bind(ctx, m)
		case *pgproto3.Describe:
			s.describe(m)
			ok = true
		case *pgproto3.Close:
			s.closeMsg(m)
			ok = true
		case *pgproto3.Execute:
			ok = s.execute(ctx, m)
		case *pgproto3.Sync:
			ok = s.flushBatch(ctx, 'S')
		case *pgproto3.Flush:
			ok = s.flushBatch(ctx, 'H')
		case *pgproto3.CopyData:
			ok = s.forwardCopy('d', m.Data, false)
		case *pgproto3.CopyDone:
			ok = s.forwardCopy('c', nil, true)
		case *pgproto3.CopyFail:
			ok = s.forwardCopy('f', append([]byte(m.Message), 0), true)
		case *pgproto3.FunctionCall:
			// The fast-path interface runs a function by OID, out of sight
			// of the SQL analysis: refused like a denied statement.
			ok = s.flushBatch(ctx, 0) && s.refuseSimple(refusal(codeInsufficientPrivilege,
				"qgate refuses fast-path function calls", "Call the function in a SQL statement instead."))
		case *pgproto3.Terminate:
			s.upW.Write([]byte{'X', 0, 0, 0, 4})
			s.upW.Flush()
			return
		default:
			s.fatalf(codeProtocolViolation, "unexpected message type %T", msg)
			return
		}
		if ok && len(s.ext.batch) >= maxBatch {
			// A client pipelining without Sync: forward what is decided
			// rather than buffer the whole pipeline.
			ok = s.flushBatch(ctx, 0)
		}
		if !ok {
			return
		}
	}
}

// end stops the relay once the client loop is done.
func (s *session) end() {
	s.closeOnce.Do(func() { close(s.done) })
	s.up.conn.Close()
}

// readFailed ends the session after a failed read from the client.
func (s *session) readFailed(err error) {
	var tooBig *pgproto3.ExceededMaxBodyLenErr
	var ne net.Error
	switch {
	case errors.As(err, &tooBig):
		s.fatalf(codeProgramLimitExceeded, "message of %d bytes exceeds qgate's limit of %d bytes", tooBig.ActualBodyLen, tooBig.MaxExpectedBodyLen)
	case errors.As(err, &ne) && ne.Timeout() && s.p.IdleTimeout > 0:
		s.fatalf(codeIdleTimeout, "terminating connection due to idle-session timeout")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.As(err, &ne):
	default:
		s.fatalf(codeProtocolViolation, "invalid message from the client: %v", err)
	}
	s.p.Logger.Debug("postgres session read", "target", s.p.Target.Name, "pid", s.pid, "err", err)
}

// fatalf sets the FATAL error the relay writes before closing.
func (s *session) fatalf(code, format string, args ...any) {
	s.fatal.CompareAndSwap(nil, errorMsg("FATAL", code, fmt.Sprintf(format, args...), ""))
}

// simpleQuery decides a simple Query and forwards it or refuses it. It
// reports whether the session goes on.
func (s *session) simpleQuery(ctx context.Context, text string) bool {
	st := &statement{text: text}
	v := s.decide(ctx, st)
	if v.end {
		return false
	}
	if v.refusal != nil {
		return s.refuseSimple(v.refusal)
	}
	s.invalidate(st)
	if !s.send(item{upstream: true, sync: true, refuseAt: -1, execs: []*execution{v.exec}}) {
		return false
	}
	s.upW.WriteByte('Q')
	s.upW.Write(be32(len(text) + 5))
	s.upW.WriteString(text)
	s.upW.WriteByte(0)
	return s.upW.Flush() == nil
}

// refuseSimple answers a refused Query (or function call) like a
// PostgreSQL error: the upstream executes a portal that cannot exist, so
// that an open transaction is aborted there too, and the relay replaces
// the upstream's error with the refusal.
func (s *session) refuseSimple(refusal []byte) bool {
	if !s.send(item{upstream: true, sync: true, refuseAt: 0, refusal: refusal}) {
		return false
	}
	s.writeBogusExecute()
	s.upW.Write([]byte{'S', 0, 0, 0, 4})
	return s.upW.Flush() == nil
}

// writeBogusExecute writes an Execute of a portal that cannot exist.
func (s *session) writeBogusExecute() {
	s.upW.WriteByte('E')
	s.upW.Write(be32(len(s.bogus) + 1 + 4 + 4))
	s.upW.WriteString(s.bogus)
	s.upW.WriteByte(0)
	s.upW.Write([]byte{0, 0, 0, 0})
}

// forwardCopy streams COPY data to the upstream. The COPY statement was
// decided already; outside COPY the upstream ignores these messages.
func (s *session) forwardCopy(typ byte, data []byte, flush bool) bool {
	if !s.flushBatch(context.Background(), 0) {
		return false
	}
	s.upW.WriteByte(typ)
	s.upW.Write(be32(len(data) + 4))
	s.upW.Write(data)
	if flush {
		return s.upW.Flush() == nil
	}
	return true
}

func be32(n int) []byte {
	return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}
