package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/qgate/qgate"
)

// Report is the outcome of Verify.
type Report struct {
	Events   int64  `json:"events"`    // records checked, up to and including the broken one
	LastSeq  int64  `json:"last_seq"`  // seq of the last valid record
	LastHash string `json:"last_hash"` // hash of the last valid record
	OK       bool   `json:"ok"`
	// BrokenSeq is the first record at which the chain breaks (for a gap,
	// the first missing seq); 0 when OK.
	BrokenSeq int64  `json:"broken_seq,omitempty"`
	Problem   string `json:"problem,omitempty"`
}

// String describes the report in one line, as qgate audit verify prints it.
func (r Report) String() string {
	if r.OK {
		return fmt.Sprintf("ok: %d events, last seq %d, last hash %s", r.Events, r.LastSeq, r.LastHash)
	}
	return fmt.Sprintf("chain broken at record %d: %s", r.BrokenSeq, r.Problem)
}

// errBroken stops the scan at the first broken record.
var errBroken = errors.New("chain broken")

// Verify streams every stored event in seq order and checks the chain:
// seqs run 1, 2, 3, ... without gaps; each PrevHash is the previous
// event's Hash ("" for the first); each Hash is the event's chain hash
// under the version it names (AuditEvent.HashValid). It
// stops at the first broken record and names it in the report. The error
// is only for failing to read the store; a broken chain is a report with
// OK false.
func Verify(ctx context.Context, store qgate.AuditStore) (Report, error) {
	var rep Report
	err := store.ScanAudit(ctx, 0, func(e *qgate.AuditEvent) error {
		if problem, broken := check(&rep, e); problem != "" {
			rep.BrokenSeq, rep.Problem = broken, problem
			rep.Events++
			return errBroken
		}
		rep.Events++
		rep.LastSeq, rep.LastHash = e.Seq, e.Hash
		return nil
	})
	if errors.Is(err, errBroken) {
		return rep, nil
	} else if err != nil {
		return rep, fmt.Errorf("verify audit: %w", err)
	}
	rep.OK = true
	return rep, nil
}

// check compares e with the last valid record in rep. It returns what is
// wrong and at which seq, or "".
func check(rep *Report, e *qgate.AuditEvent) (problem string, seq int64) {
	want := rep.LastSeq + 1
	switch {
	case e.Seq > want:
		return fmt.Sprintf("seq gap: record(s) %d..%d missing", want, e.Seq-1), want
	case e.Seq < want:
		return fmt.Sprintf("seq out of order: %d after %d", e.Seq, rep.LastSeq), e.Seq
	}
	// Check the link before the record's own hash: a record swapped in
	// from elsewhere in the chain fails here, which names the problem
	// better than a hash mismatch would.
	if e.PrevHash != rep.LastHash {
		if rep.LastSeq == 0 {
			return "prev_hash of the first record is not empty: records deleted from the start", e.Seq
		}
		return fmt.Sprintf("prev_hash does not match record %d: records reordered or deleted", rep.LastSeq), e.Seq
	}
	if !e.HashValid() {
		return "hash mismatch: record was edited", e.Seq
	}
	return "", 0
}
