package pgproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// item is one thing for the relay to do, in client order.
type item struct {
	// local is written to the client as is and flushed (a NOTICE).
	local []byte
	// upstream is set for a chunk of messages forwarded upstream.
	upstream bool
	// sync: the chunk ends with Sync or is a simple Query; the relay
	// reads through ReadyForQuery. Otherwise it reads until the segment
	// has produced expect completions (or an error).
	sync   bool
	expect int
	// refuseAt is the completion index, within the segment, of the
	// impossible Execute that stands for a refused statement: the
	// upstream's error there is replaced by refusal. -1 for none.
	refuseAt int
	refusal  []byte
	// execs are the statements of the chunk, for the execution audit.
	execs []*execution
	// report: the client loop waits for this segment's outcome.
	report bool
}

// results carries segment outcomes from the relay to the client loop
// without ever blocking the relay.
type results struct {
	mu     sync.Mutex
	errAt  []int // per reported segment: completion index of its error, or -1
	signal chan struct{}
}

func (r *results) put(errAt int) {
	r.mu.Lock()
	r.errAt = append(r.errAt, errAt)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *results) take() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.errAt
	r.errAt = nil
	return v
}

// completes reports whether a backend message ends the answer to one
// extended-protocol message.
func completes(typ byte) bool {
	switch typ {
	case '1', '2', '3', 'T', 'n', 'C', 'I', 's':
		return true
	}
	return false
}

// relayState is the relay's view of the current segment (the messages
// since the last Sync).
type relayState struct {
	count    int  // completions seen in the segment
	failed   bool // an ErrorResponse ended the segment's work
	errAt    int
	refuseAt int
	refusal  []byte
	execs    []*execution // unfinished, in order
	txStatus byte
}

// relay copies the upstream's answers to the client, in the order of the
// queue, and writes qgate's own messages at their place.
//
// Between answers the relay waits on the upstream itself, so that what
// the upstream sends on its own (a notification, a notice, a parameter
// change, the FATAL error before it closes the session) reaches the client
// at once, while the client is idle or a statement is held. Upstream data
// that arrives when the queue is empty is such a message: the client loop
// queues an item before it writes anything to the upstream, so an answer
// always finds its item. A local item (a NOTICE) wakes the waiting relay
// with a kick.
func (s *session) relay() {
	defer close(s.relayd)
	defer s.closeOnce.Do(func() { close(s.done) })
	defer s.closeClient()
	st := relayState{refuseAt: -1, errAt: -1, txStatus: 'I'}
	for {
		it, ok := s.next()
		if !ok {
			if s.w.Flush() != nil {
				return
			}
			var err error
			if it, ok, err = s.waitUpstream(); err == nil && !ok {
				err = s.relayUnsolicited()
			}
			if err != nil {
				s.upstreamEnded(&st, err)
				return
			}
			if !ok {
				continue
			}
		}
		if !it.upstream {
			s.write(it.local)
			if s.w.Flush() != nil {
				return
			}
			continue
		}
		if it.refuseAt >= 0 {
			st.refuseAt, st.refusal = it.refuseAt, it.refusal
		}
		st.execs = append(st.execs, it.execs...)
		err := s.relayChunk(&st, &it)
		s.busy.Add(-1)
		if err != nil {
			s.upstreamEnded(&st, err)
			return
		}
	}
}

// next returns the next queued item, if there is one.
func (s *session) next() (item, bool) {
	select {
	case it := <-s.queue:
		return it, true
	default:
		return item{}, false
	}
}

// waitUpstream waits until there is an item to handle (ok) or the
// upstream has sent a message while the queue is empty (!ok).
func (s *session) waitUpstream() (it item, ok bool, err error) {
	for {
		s.upIn.idle.Store(true)
		if it, ok = s.next(); !ok {
			_, err = s.upR.Peek(1)
		}
		s.upIn.idle.Store(false)
		switch {
		case ok:
			return it, true, nil
		case errors.Is(err, errKicked):
			continue
		case err != nil:
			return item{}, false, err
		}
		it, ok = s.next()
		return it, ok, nil
	}
}

// relayUnsolicited forwards one message the upstream sent outside any
// exchange: a NotificationResponse, a NoticeResponse, a ParameterStatus, or
// the ErrorResponse that precedes the end of the upstream session.
func (s *session) relayUnsolicited() error {
	hdr, err := s.upR.Peek(5)
	if err != nil {
		return err
	}
	typ := hdr[0]
	n := int(int32(binary.BigEndian.Uint32(hdr[1:]))) - 4
	if n < 0 {
		return fmt.Errorf("upstream sent a message with length %d", n+4)
	}
	switch typ {
	case 'A', 'N':
		return s.copyFrame(n)
	case 'S', 'E':
		body, err := s.readBody(n)
		if err != nil {
			return err
		}
		if typ == 'S' {
			return s.parameterStatus(body)
		}
		s.writeMsg(typ, body)
		if errorFatal(body) {
			return fmt.Errorf("%w %s", errUpstreamFatal, errorCode(body))
		}
		return nil
	}
	// Anything else answers nothing the relay knows of: the two sides
	// no longer agree on where the session is, so it ends.
	s.fatalf(codeProtocolViolation, "qgate: unexpected message from the upstream server")
	return fmt.Errorf("upstream sent message type %q outside any exchange", typ)
}

// errUpstreamFatal is the end of a session that the upstream announced
// with a FATAL error, which the client has been sent.
var errUpstreamFatal = errors.New("upstream error")

// upstreamEnded ends the relay after a failed upstream read or a write to
// the client. When the upstream went away on its own, without the FATAL
// error it normally sends, the client is told.
func (s *session) upstreamEnded(st *relayState, err error) {
	s.p.Logger.Debug("postgres relay", "target", s.p.Target.Name, "pid", s.pid, "err", err)
	st.abort(s, "the upstream connection ended")
	select {
	case <-s.done: // qgate closed it: the session is ending anyway
		return
	default:
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isNetErr(err) {
		s.fatalf(codeConnectionFailure, "qgate: the upstream server closed the connection")
	}
}

// upstreamReader is what the relay reads the upstream through. While the
// relay waits on the upstream with nothing else to do (idle), a kick (a
// read deadline in the past) wakes it with errKicked so that it looks at
// its queue; at any other time a kick is ignored and the read goes on.
// Only kicks set read deadlines on the upstream connection.
type upstreamReader struct {
	conn net.Conn
	idle atomic.Bool
}

var errKicked = errors.New("pgproxy: relay woken")

func (r *upstreamReader) Read(b []byte) (int, error) {
	for {
		n, err := r.conn.Read(b)
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			return n, err
		}
		// A kick. Clearing the deadline may clear a later kick's too:
		// the relay looks at its queue after this read either way.
		r.conn.SetReadDeadline(time.Time{})
		switch {
		case n > 0:
			return n, nil
		case r.idle.Load():
			return 0, errKicked
		}
	}
}

// kick wakes the relay if it waits on the upstream.
func (r *upstreamReader) kick() {
	r.conn.SetReadDeadline(time.Unix(1, 0))
}

// closeClient writes a pending FATAL error and closes the client.
func (s *session) closeClient() {
	if f := s.fatal.Load(); f != nil {
		s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		s.writeFlush(encode(nil, f))
	} else {
		s.w.Flush()
	}
	s.conn.Close()
}

// abort finishes the execution audit of statements cut short.
func (st *relayState) abort(s *session, why string) {
	for _, e := range st.execs {
		e.err = why
		s.finishExecution(e)
	}
	st.execs = nil
}

// relayChunk relays the answers to one chunk.
func (s *session) relayChunk(st *relayState, it *item) error {
	for {
		if !it.sync && (st.failed || st.count >= it.expect) {
			return nil
		}
		if s.upR.Buffered() < 5 {
			if err := s.w.Flush(); err != nil {
				return err
			}
		}
		hdr, err := s.upR.Peek(5)
		if err != nil {
			return err
		}
		typ := hdr[0]
		n := int(int32(binary.BigEndian.Uint32(hdr[1:]))) - 4
		if n < 0 {
			return fmt.Errorf("upstream sent a message with length %d", n+4)
		}
		switch typ {
		case 'E', 'C', 'Z', 'S', 'I', 's':
			body, err := s.readBody(n)
			if err != nil {
				return err
			}
			if done, err := s.inspect(st, it, typ, body); err != nil || done {
				return err
			}
			continue
		}
		if completes(typ) {
			st.count++
		}
		if err := s.copyFrame(n); err != nil {
			return err
		}
	}
}

// readBody consumes a whole message whose header was peeked and returns
// its body, valid until the next read.
func (s *session) readBody(n int) ([]byte, error) {
	if 5+n <= s.upR.Size() {
		b, err := s.upR.Peek(5 + n)
		if err != nil {
			return nil, err
		}
		s.upR.Discard(5 + n)
		return b[5:], nil
	}
	s.upR.Discard(5)
	if cap(s.scratch) < n {
		s.scratch = make([]byte, n)
	}
	b := s.scratch[:n]
	_, err := io.ReadFull(s.upR, b)
	return b, err
}

// copyFrame copies one message whose header was peeked to the client
// without holding more than the read buffer.
func (s *session) copyFrame(n int) error {
	if 5+n <= s.upR.Size() {
		b, err := s.upR.Peek(5 + n)
		if err != nil {
			return err
		}
		s.w.Write(b)
		_, err = s.upR.Discard(5 + n)
		return err
	}
	hdr, _ := s.upR.Peek(5)
	s.w.Write(hdr)
	s.upR.Discard(5)
	_, err := io.CopyN(s.w, s.upR, int64(n))
	return err
}

// inspect handles the messages the relay looks into. done is true when the
// chunk's answers are complete.
func (s *session) inspect(st *relayState, it *item, typ byte, body []byte) (done bool, err error) {
	switch typ {
	case 'C', 'I', 's':
		if len(st.execs) > 0 {
			e := st.execs[0]
			if e.simple || e.at == st.count {
				if typ == 'C' {
					e.tags = append(e.tags, string(cstring(body)))
				}
				if !e.simple {
					s.finishExecution(e)
					st.execs = st.execs[1:]
				}
			}
		}
		st.count++
		s.writeMsg(typ, body)
	case 'E':
		code := errorCode(body)
		if !st.failed && st.refuseAt >= 0 && st.count == st.refuseAt {
			s.write(st.refusal)
		} else {
			s.writeMsg(typ, body)
		}
		if len(st.execs) > 0 && (st.execs[0].simple || st.execs[0].at == st.count) {
			e := st.execs[0]
			e.code = code
			if !e.simple {
				s.finishExecution(e)
				st.execs = st.execs[1:]
			}
		}
		if !st.failed {
			st.failed, st.errAt = true, st.count
		}
		if errorFatal(body) {
			return true, fmt.Errorf("upstream error %s", code)
		}
	case 'S':
		if err := s.parameterStatus(body); err != nil {
			return true, err
		}
	case 'Z':
		if len(body) == 1 {
			st.txStatus = body[0]
		}
		s.writeMsg(typ, body)
		// The client has its answer: send it before the bookkeeping
		// (a failed write ends the relay once that is done).
		flushErr := s.w.Flush()
		for _, e := range st.execs {
			if !e.simple && e.code == "" && e.err == "" {
				e.err = "not executed: an earlier message of the pipeline failed"
			}
			s.finishExecution(e)
		}
		st.execs = st.execs[:0]
		if it.report {
			s.results.put(st.errAt)
		}
		st.count, st.failed, st.errAt, st.refuseAt, st.refusal = 0, false, -1, -1, nil
		if flushErr != nil {
			return true, flushErr
		}
		if it.sync {
			return true, nil
		}
	}
	return false, nil
}

// parameterStatus forwards a ParameterStatus. A client encoding that qgate
// cannot analyse ends the session.
func (s *session) parameterStatus(body []byte) error {
	s.writeMsg('S', body)
	name := cstring(body)
	if string(name) == "client_encoding" && len(body) > len(name)+1 {
		if v := string(cstring(body[len(name)+1:])); !safeEncoding(v) {
			s.fatal.CompareAndSwap(nil, errorMsg("FATAL", codeFeatureNotSupported,
				fmt.Sprintf("client encoding %q is not supported by qgate", v), "The session was closed."))
			return fmt.Errorf("unsafe client encoding %q", v)
		}
	}
	return nil
}

// writeMsg writes a message to the client from its type and body.
func (s *session) writeMsg(typ byte, body []byte) {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(body)+4))
	s.w.Write(hdr[:])
	s.w.Write(body)
}

var _ = pgproto3.ProtocolVersion30

// send gives the relay its next item; false when the session is ending.
func (s *session) send(it item) bool {
	if it.upstream {
		s.busy.Add(1)
	}
	select {
	case s.queue <- it:
		if !it.upstream {
			s.upIn.kick()
		}
		return true
	case <-s.done:
		if it.upstream {
			s.busy.Add(-1)
		}
		return false
	}
}
