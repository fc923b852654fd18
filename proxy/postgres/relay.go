package pgproxy

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
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
func (s *session) relay() {
	defer close(s.relayd)
	defer s.closeOnce.Do(func() { close(s.done) })
	defer s.closeClient()
	st := relayState{refuseAt: -1, errAt: -1, txStatus: 'I'}
	for {
		var it item
		select {
		case it = <-s.queue:
		default:
			if s.w.Flush() != nil {
				return
			}
			select {
			case it = <-s.queue:
			case <-s.done:
				return
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
			s.p.Logger.Debug("postgres relay", "target", s.p.Target.Name, "pid", s.pid, "err", err)
			st.abort(s, "the upstream connection ended")
			return
		}
	}
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
		s.writeMsg(typ, body)
		name := cstring(body)
		if string(name) == "client_encoding" && len(body) > len(name)+1 {
			if v := string(cstring(body[len(name)+1:])); !safeEncoding(v) {
				s.fatal.CompareAndSwap(nil, errorMsg("FATAL", codeFeatureNotSupported,
					fmt.Sprintf("client encoding %q is not supported by qgate", v), "The session was closed."))
				return true, fmt.Errorf("unsafe client encoding %q", v)
			}
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
		return true
	case <-s.done:
		if it.upstream {
			s.busy.Add(-1)
		}
		return false
	}
}
