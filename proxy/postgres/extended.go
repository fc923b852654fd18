package pgproxy

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5/pgproto3"
)

// The extended protocol's prepared statements and portals are tracked per
// session, so that each Execute is decided for the text and parameters the
// upstream will really run.
//
// Messages are buffered until the client asks for answers (Sync, Flush,
// or a message that needs the upstream now), or until maxBatch bytes are
// buffered; then the buffered Executes are decided in order. The names a segment (the messages up to a Sync)
// defines are tentative until the upstream has answered that segment: a
// Parse or Bind that failed, or that the upstream skipped after an error,
// never changes what later statements are decided as. Lookups see the
// current segment's definitions first, then the confirmed ones; a lookup
// that falls through waits until every earlier segment is confirmed.

// maxBatch is how many bytes of extended-protocol messages the client
// loop buffers before it decides and forwards them without waiting for
// Sync or Flush (one larger message is forwarded alone).
const maxBatch = 1 << 20

// prepared is a prepared statement's text, analysed on first Execute.
type prepared struct {
	st statement // text and analysis
}

// portal is a bound statement with its parameters (copied).
type portal struct {
	stmt    *prepared // nil: bound to a statement qgate does not know
	params  [][]byte
	formats []int16
}

// change is a definition made by one message of a segment.
type change struct {
	at     int  // the message's completion index in its segment
	kind   byte // 'P' Parse, 'B' Bind, 'S' close statement, 'Q' close portal
	name   string
	stmt   *prepared
	portal *portal
}

// bufMsg is one buffered message.
type bufMsg struct {
	typ  byte
	end  int     // end offset in batch
	exec *portal // Execute: the portal as it stood (nil: unknown)
	name string  // Execute: the portal name
}

type extState struct {
	stmts   map[string]*prepared // confirmed
	portals map[string]*portal
	ovStmts map[string]*prepared // the current segment; nil value: closed
	ovPorts map[string]*portal
	changes []change // the current segment's
	// lastBind is the index in changes of the segment's latest Bind of
	// each portal name.
	lastBind map[string]int
	waiting  [][]change // forwarded segments whose outcome is not known yet

	batch    []byte
	msgs     []bufMsg
	pos      int  // completions the current segment will have, buffered messages included
	skipping bool // a statement of the segment was refused: drop until Sync
}

func (x *extState) init() {
	x.stmts, x.portals = map[string]*prepared{}, map[string]*portal{}
	x.ovStmts, x.ovPorts = map[string]*prepared{}, map[string]*portal{}
	x.lastBind = map[string]int{}
}

// confirm applies the outcome of forwarded segments; with wait it blocks
// until every one is known. It returns false when the session ends first.
func (s *session) confirm(wait bool) bool {
	x := &s.ext
	for len(x.waiting) > 0 {
		for _, errAt := range s.results.take() {
			for _, c := range x.waiting[0] {
				if errAt >= 0 && c.at >= errAt {
					break
				}
				switch c.kind {
				case 'P':
					x.stmts[c.name] = c.stmt
				case 'B':
					x.portals[c.name] = c.portal
				case 'S':
					delete(x.stmts, c.name)
				case 'Q':
					delete(x.portals, c.name)
				}
			}
			x.waiting = x.waiting[1:]
		}
		if !wait || len(x.waiting) == 0 {
			break
		}
		select {
		case <-s.results.signal:
		case <-s.done:
			return false
		}
	}
	return true
}

func (s *session) lookupStmt(name string) (*prepared, bool) {
	x := &s.ext
	if v, ok := x.ovStmts[name]; ok {
		return v, true
	}
	if !s.confirm(true) {
		return nil, false
	}
	return x.stmts[name], true
}

func (s *session) lookupPortal(name string) (*portal, bool) {
	x := &s.ext
	if v, ok := x.ovPorts[name]; ok {
		return v, true
	}
	if !s.confirm(true) {
		return nil, false
	}
	return x.portals[name], true
}

// buffer appends a message to the batch. Messages of a segment with a
// refused statement are dropped, as the upstream would skip them.
func (s *session) buffer(m pgproto3.FrontendMessage, typ byte) bool {
	x := &s.ext
	if x.skipping {
		return false
	}
	var err error
	if x.batch, err = m.Encode(x.batch); err != nil {
		return false
	}
	x.msgs = append(x.msgs, bufMsg{typ: typ, end: len(x.batch)})
	x.pos++
	return true
}

func (s *session) parse(m *pgproto3.Parse) {
	x := &s.ext
	p := &prepared{st: statement{text: m.Query, extended: true}}
	at := x.pos
	if !s.buffer(m, 'P') {
		return
	}
	if m.Name != "" {
		if old, ok := s.lookupStmt(m.Name); ok && old != nil {
			return // the upstream refuses to redefine a named statement
		}
	}
	x.ovStmts[m.Name] = p
	x.changes = append(x.changes, change{at: at, kind: 'P', name: m.Name, stmt: p})
}

func (s *session) bind(ctx context.Context, m *pgproto3.Bind) bool {
	x := &s.ext
	if x.skipping {
		return true
	}
	st, ok := s.lookupStmt(m.PreparedStatement)
	if !ok {
		return false
	}
	params := make([][]byte, len(m.Parameters))
	for i, v := range m.Parameters {
		if v != nil {
			params[i] = slices.Clone(v)
			if params[i] == nil {
				params[i] = []byte{}
			}
		}
	}
	pt := &portal{stmt: st, params: params, formats: slices.Clone(m.ParameterFormatCodes)}
	at := x.pos
	if !s.buffer(m, 'B') {
		return true
	}
	x.ovPorts[m.DestinationPortal] = pt
	if i, ok := x.lastBind[m.DestinationPortal]; ok {
		// A portal bound again in the same segment (a driver's pipeline
		// of unnamed portals). The earlier one can outlive the segment
		// only if the segment fails between the two Binds, and the
		// failure aborts the transaction, which drops portals upstream
		// too: forget it, and its parameters, rather than keep every
		// one until Sync. (An Execute of it would be refused.)
		x.changes[i].portal = nil
	}
	x.lastBind[m.DestinationPortal] = len(x.changes)
	x.changes = append(x.changes, change{at: at, kind: 'B', name: m.DestinationPortal, portal: pt})
	return true
}

func (s *session) describe(m *pgproto3.Describe) {
	s.buffer(m, 'D')
}

func (s *session) closeMsg(m *pgproto3.Close) {
	x := &s.ext
	at := x.pos
	if !s.buffer(m, 'C') {
		return
	}
	if m.ObjectType == 'S' {
		x.ovStmts[m.Name] = nil
		x.changes = append(x.changes, change{at: at, kind: 'S', name: m.Name})
	} else {
		x.ovPorts[m.Name] = nil
		x.changes = append(x.changes, change{at: at, kind: 'Q', name: m.Name})
	}
}

func (s *session) execute(ctx context.Context, m *pgproto3.Execute) bool {
	x := &s.ext
	if x.skipping {
		return true
	}
	pt, ok := s.lookupPortal(m.Portal)
	if !ok {
		return false
	}
	if s.buffer(m, 'E') {
		x.msgs[len(x.msgs)-1].exec = pt
		x.msgs[len(x.msgs)-1].name = m.Portal
	}
	return true
}

// flushBatch decides the buffered Executes in order and forwards the
// batch, followed by the Sync ('S') or Flush ('H') that asked for it (0:
// neither). A refused Execute is replaced by an impossible one, and the
// rest of the segment is dropped. It reports whether the session goes on.
func (s *session) flushBatch(ctx context.Context, final byte) bool {
	x := &s.ext
	if final == 0 {
		if len(x.msgs) == 0 {
			return true
		}
		final = 'H' // the answers must come before what follows
	}
	chunkStart := x.pos - len(x.msgs) // completions forwarded before this chunk
	it := item{upstream: true, refuseAt: -1}
	cut := len(x.batch)
	var execs []*execution
	for i := range x.msgs {
		m := &x.msgs[i]
		if m.typ != 'E' {
			continue
		}
		v := s.decideExecute(ctx, m)
		if v.end {
			return false
		}
		if v.refusal != nil {
			// Forward what came before, then the impossible Execute.
			cut = 0
			if i > 0 {
				cut = x.msgs[i-1].end
			}
			it.refuseAt, it.refusal = chunkStart+i, v.refusal
			x.skipping = true
			break
		}
		v.exec.at = chunkStart + i
		execs = append(execs, v.exec)
	}
	it.execs = execs
	out := x.batch[:cut]
	if it.refuseAt >= 0 {
		x.pos = it.refuseAt + 1
	}
	it.expect = x.pos
	switch final {
	case 'S':
		it.sync = true
		it.report = len(x.changes) > 0
	}
	if !s.send(it) {
		return false
	}
	s.upW.Write(out)
	if it.refuseAt >= 0 {
		s.writeBogusExecute()
	}
	switch final {
	case 'S':
		s.upW.Write([]byte{'S', 0, 0, 0, 4})
		x.waiting = append(x.waiting, x.changes)
		if !it.report {
			x.waiting = x.waiting[:len(x.waiting)-1]
		}
		x.changes = nil
		clear(x.lastBind)
		clear(x.ovStmts)
		clear(x.ovPorts)
		x.pos, x.skipping = 0, false
	case 'H':
		s.upW.Write([]byte{'H', 0, 0, 0, 4})
	}
	x.batch, x.msgs = x.batch[:0], x.msgs[:0]
	if cap(x.batch) > maxBatch {
		x.batch = nil // after a large message: do not keep its buffer
	}
	return s.upW.Flush() == nil
}

// decideExecute decides one buffered Execute.
func (s *session) decideExecute(ctx context.Context, m *bufMsg) verdict {
	pt := m.exec
	if pt == nil || pt.stmt == nil {
		return verdict{refusal: refusal(codeInsufficientPrivilege,
			"qgate does not know what portal "+quoteIdent(m.name)+" runs, so it was not executed",
			"Prepare and bind the statement on this connection with the extended protocol.")}
	}
	st := &statement{text: pt.stmt.st.text, extended: true, params: pt.params, formats: pt.formats}
	if pt.stmt.st.analysis == nil {
		pt.stmt.st.analysis = s.p.Analyzer.AnalyzeSQL(st.text)
	}
	st.analysis = pt.stmt.st.analysis
	v := s.decide(ctx, st)
	if v.exec != nil {
		s.invalidate(st)
	}
	return v
}

// invalidate forgets every prepared statement when SQL-level PREPARE,
// DEALLOCATE or DISCARD ALL may have changed what a name stands for: a
// Bind to a forgotten name is refused rather than decided on old text.
func (s *session) invalidate(st *statement) {
	for _, stmt := range st.analysis.Statements {
		switch stmt.Command {
		case "PREPARE", "DEALLOCATE", "DEALLOCATE ALL", "DISCARD ALL":
			x := &s.ext
			if !s.confirm(true) {
				return
			}
			clear(x.stmts)
			for k := range x.ovStmts {
				x.ovStmts[k] = nil
			}
			return
		}
	}
}

func quoteIdent(s string) string {
	if s == "" {
		return `""`
	}
	return `"` + s + `"`
}
