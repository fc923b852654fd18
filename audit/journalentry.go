package audit

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/qgate/qgate"
)

// A journal entry (package audit/journal) is one event as appended,
// before the store chains it: its time and every field the caller sets,
// each field a uvarint length (or a varint number) followed by its bytes.
// Seq, PrevHash and Hash are the store's to give when the entry is
// applied.

// errBadEntry is returned for an entry that does not decode. The journal
// checks each record's CRC, so it means a bug, not a torn write.
var errBadEntry = errors.New("malformed audit journal entry")

// appendEntry appends e's journal encoding to b.
func appendEntry(b []byte, e *qgate.AuditEvent) []byte {
	b = binary.AppendVarint(b, e.Time.UnixNano())
	for _, s := range [...]string{e.Type, e.Action, e.RequestID, e.TokenID, e.Identity, e.Target, e.Environment} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, e.ReviewID)
	b = binary.AppendUvarint(b, uint64(len(e.Data)))
	return append(b, e.Data...)
}

// decodeEntry decodes an entry written by appendEntry. The event's Data
// is a copy: b may be reused.
func decodeEntry(b []byte) (*qgate.AuditEvent, error) {
	e := &qgate.AuditEvent{}
	ok := true
	num := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			ok = false
			return 0
		}
		b = b[n:]
		return v
	}
	bytesField := func() []byte {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			ok = false
			return nil
		}
		v := b[n : n+int(l)]
		b = b[n+int(l):]
		return v
	}
	e.Time = time.Unix(0, num()).UTC()
	for _, s := range [...]*string{&e.Type, &e.Action, &e.RequestID, &e.TokenID, &e.Identity, &e.Target, &e.Environment} {
		*s = string(bytesField())
	}
	e.ReviewID = num()
	if data := bytesField(); len(data) > 0 {
		e.Data = append([]byte(nil), data...)
	}
	if !ok || len(b) != 0 {
		return nil, errBadEntry
	}
	return e, nil
}
