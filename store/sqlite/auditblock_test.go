package sqlite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/qgate/qgate"
	"github.com/qgate/qgate/gate"
)

// TestAppendEvent_MatchesEncodingJSON: a block holds each event exactly as
// encoding/json encodes it (for data without characters encoding/json
// would escape inside it), so that qgate audit export, any JSON tool and
// an attacker's re-encoding all agree with what verify expects.
func TestAppendEvent_MatchesEncodingJSON(t *testing.T) {
	base := qgate.AuditEvent{Seq: 42, Time: time.Date(2026, 11, 27, 4, 5, 6, 789, time.UTC), Type: "request", Action: "allow",
		PrevHash: "ab", Hash: "cd"}
	for name, mod := range map[string]func(*qgate.AuditEvent){
		"Minimal": func(*qgate.AuditEvent) {},
		"AllFields": func(e *qgate.AuditEvent) {
			e.RequestID, e.TokenID, e.Identity, e.Target, e.Environment, e.ReviewID = "r", "t", "i", "db", "prod", 7
		},
		"Data":        func(e *qgate.AuditEvent) { e.Data = []byte(`{"sql":"SELECT 1","n":[1,2.5e3,null,true]}`) },
		"Escapes":     func(e *qgate.AuditEvent) { e.Identity = "a\"b\\c\n<&>\u2028\x01é" },
		"WholeSecond": func(e *qgate.AuditEvent) { e.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
		"FirstEvent":  func(e *qgate.AuditEvent) { e.PrevHash = "" },
		"NegativeSeq": func(e *qgate.AuditEvent) { e.Seq, e.ReviewID = -1, -2 },
	} {
		t.Run(name, func(t *testing.T) {
			e := base
			mod(&e)
			want, err := json.Marshal(&e)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendEvent(nil, &e); !bytes.Equal(got, want) {
				t.Fatalf("appendEvent:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestValidUTF8: strings are stored as encoding/json would give them back.
func TestValidUTF8(t *testing.T) {
	for _, s := range []string{"", "plain", "é\u2028", "a\xffb", "\xc3", "\xed\xa0\x80", "x\xf0\x9f\x98"} {
		got := validUTF8(s)
		var back string
		enc, _ := json.Marshal(s)
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatal(err)
		}
		if got != back {
			t.Errorf("validUTF8(%q) = %q, encoding/json gives back %q", s, got, back)
		}
	}
}

func sampleEvents(n int) []qgate.AuditEvent {
	var es []qgate.AuditEvent
	prev := ""
	for i := range n {
		e := qgate.AuditEvent{Seq: int64(i + 1), Time: time.Date(2026, 11, 27, 4, 5, 6, i*1000, time.UTC), Type: "request", Action: "allow",
			RequestID: "019ac3f2-7b7e-7c4e-9f1e-3c2b1a000000", TokenID: "tok1", Identity: "bench", Target: "bench-db", Environment: "bench",
			Data:     []byte(`{"sql":"SELECT abalance FROM pgbench_accounts WHERE aid = 12345;","protocol":"simple","source_ip":"127.0.0.1","matched":[{"name":"allow-everything","action":"allow"}],"risk":"low","findings":[]}`),
			PrevHash: prev}
		if i%2 == 1 {
			e.Type, e.Action, e.ReviewID = "execution", "forwarded", int64(i)
			e.Data = []byte(`{"tags":["SELECT 1"],"rows":1,"duration_ms":0.071}`)
		}
		e.Hash = e.ChainHash()
		prev = e.Hash
		es = append(es, e)
	}
	return es
}

// TestDecodeCanonicalBlock: what qgate writes takes the fast path and
// reads as encoding/json reads it; a string with an escape does not.
func TestDecodeCanonicalBlock(t *testing.T) {
	es := sampleEvents(10)
	es[3].Data = []byte(`{"s":"a \"quoted\" \\ ,]}","n":[{"x":[1,2]},-3.5e2,true,null]}`)
	text := newBlock(es, nil, true).text
	got, ok := decodeCanonicalBlock(text)
	if !ok {
		t.Fatal("qgate's own block did not take the fast path")
	}
	if !reflect.DeepEqual(got, es) {
		t.Fatalf("fast path read\n%+v\nwant\n%+v", got, es)
	}
	es[5].Identity = "\"quoted\""
	if _, ok := decodeCanonicalBlock(newBlock(es, nil, true).text); ok {
		t.Fatal("a string with an escape took the fast path")
	}
	if got, err := decodeBlock(1, newBlock(es, nil, true).text); err != nil || len(got) != 10 {
		t.Fatalf("decodeBlock: %d events, %v", len(got), err)
	}
}

func BenchmarkDecodeBlock(b *testing.B) {
	text := newBlock(sampleEvents(64), nil, true).text
	b.Run("canonical", func(b *testing.B) {
		for b.Loop() {
			if _, ok := decodeCanonicalBlock(text); !ok {
				b.Fatal("not canonical")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/event")
	})
	b.Run("encoding_json", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeBlockJSON(1, text); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/event")
	})
}

// FuzzDecodeBlock: whatever text a block holds, decodeBlock returns an
// error or events that encode back to exactly that text; it never
// panics.
func FuzzDecodeBlock(f *testing.F) {
	e := qgate.AuditEvent{Seq: 1, Time: time.Unix(1700000000, 5).UTC(), Type: "request", Action: "allow", RequestID: "r1",
		Data: []byte("{\"a\": [1, {\"b\":\n\"c\"}]}"), Hash: "h1"}
	e2 := e
	e2.Seq, e2.PrevHash, e2.Hash, e2.Data = 2, "h1", "h2", nil
	f.Add(newBlock([]qgate.AuditEvent{e, e2}, nil, true).text)
	f.Add([]byte(`{"seq":1,"time":"2026-01-01T00:00:00Z","type":"","action":"","prev_hash":"","hash":""}`))
	f.Add([]byte(`{"seq":1}` + "\n" + `{"seq":2}`))
	f.Add([]byte(`{"seq":1,"data":null}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, text []byte) {
		// The fast path may only accept what encoding/json reads the same.
		if fast, ok := decodeCanonicalBlock(text); ok {
			slow, err := decodeBlockJSON(1, text)
			if err != nil {
				t.Fatalf("fast path read %q, encoding/json refuses it: %v", text, err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fast path read %q as\n%+v\nencoding/json as\n%+v", text, fast, slow)
			}
		}
		events, err := decodeBlock(1, text)
		if err != nil {
			return
		}
		if len(events) == 0 {
			t.Fatal("decoded no events without an error")
		}
		var again []byte
		for i := range events {
			if i > 0 {
				again = append(again, '\n')
			}
			again = appendEvent(again, &events[i])
		}
		if !bytes.Equal(again, text) {
			t.Fatalf("decoded %q\nwhich encodes to %q", text, again)
		}
	})
}

// TestAuditTimeBoundsUseIndexes: a listing bounded in time finds its seq
// range through the time indexes, not by reading every block.
func TestAuditTimeBoundsUseIndexes(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "qgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for q, index := range map[string]string{
		sinceSeqSQL: "audit_blocks_time",
		untilSeqSQL: "audit_blocks_min_time",
	} {
		var plan []string
		rows, err := db.r.Query(`EXPLAIN QUERY PLAN `+q, 1)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if !strings.Contains(strings.Join(plan, "\n"), index) {
			t.Errorf("%s: plan %q does not use %s", q, plan, index)
		}
	}
}

// TestUUIDV7Millis: the gateway's request ids read as UUIDv7 with their
// time; anything else does not, and the range floor sorts before every id
// made requestRangeSpan earlier or later.
func TestUUIDV7Millis(t *testing.T) {
	before := time.Now().UnixMilli()
	id := gate.NewRequestID()
	ms, ok := uuidV7Millis(id)
	if !ok || ms < before || ms > time.Now().UnixMilli() {
		t.Fatalf("uuidV7Millis(%q) = %d, %v; want a time from %d on", id, ms, ok, before)
	}
	if floor := requestRangeFloor(ms); !(floor < id) {
		t.Fatalf("floor %q does not sort before %q", floor, id)
	}
	for _, bad := range []string{"", "req-1", strings.ToUpper(id), id[:35], id + "0",
		id[:14] + "4" + id[15:], id[:19] + "c" + id[20:], id[:8] + "x" + id[9:], id[:2] + "g" + id[3:]} {
		if _, ok := uuidV7Millis(bad); ok {
			t.Errorf("uuidV7Millis(%q) took it for a UUIDv7", bad)
		}
	}
	early := ms - requestRangeSpan.Milliseconds()
	floor := requestRangeFloor(ms)
	for _, other := range []int64{early - 1, early, ms} {
		h := fmt.Sprintf("%012x", other)
		cand := h[:8] + "-" + h[8:] + "-7000-8000-000000000000"
		if (cand >= floor) != (other >= early) {
			t.Errorf("id of %d vs floor %q of %d: %q", other, floor, ms, cand)
		}
	}
}
