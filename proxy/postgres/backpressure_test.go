package pgproxy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// maxHeapGrowth bounds how much more live heap the whole test process
// (qgate runs in it) may hold while a large result or COPY streams.
const maxHeapGrowth = 64 << 20

// heapWatch samples the live heap every 50ms until stop, which returns
// the largest growth over the live heap at the start.
func heapWatch() (stop func() uint64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var mu sync.Mutex
	var most uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		mu.Lock()
		if ms.HeapAlloc > base && ms.HeapAlloc-base > most {
			most = ms.HeapAlloc - base
		}
		mu.Unlock()
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		sample()
		mu.Lock()
		defer mu.Unlock()
		return most
	}
}

// waitClientWrite waits until the upstream backend pid is blocked writing
// to its client (qgate): the proof that qgate stopped reading rather
// than buffering.
func (e *env) waitClientWrite(t *testing.T, pid uint32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ev string
		e.direct.QueryRow(context.Background(),
			"SELECT coalesce(wait_event, '') FROM pg_stat_activity WHERE pid = $1", pid).Scan(&ev)
		if ev == "ClientWrite" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("upstream backend %d never waited on ClientWrite (last wait event %q)", pid, ev)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A client that stops reading a large result makes qgate stop reading
// the upstream: qgate's heap stays bounded while the upstream waits, and
// when the client reads again it gets every row.
func TestProxy_BackpressureLargeResult(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pc, err := pgconn.Connect(ctx, e.connString(e.tokenID, e.token))
	if err != nil {
		t.Fatal(err)
	}
	hc, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	c := hc.Conn
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	const rows = 300000 // ~300 MB of DataRows
	q, _ := (&pgproto3.Query{String: fmt.Sprintf("SELECT repeat('x', 1000) FROM generate_series(1, %d)", rows)}).Encode(nil)
	if _, err := c.Write(q); err != nil {
		t.Fatal(err)
	}
	fe := pgproto3.NewFrontend(c, nil)
	got := 0
	read := func(limit int) (tag string) {
		t.Helper()
		for got < limit {
			msg, err := fe.Receive()
			if err != nil {
				t.Fatalf("after %d rows: %v", got, err)
			}
			switch m := msg.(type) {
			case *pgproto3.DataRow:
				if len(m.Values) != 1 || len(m.Values[0]) != 1000 {
					t.Fatalf("row %d: %d values", got, len(m.Values))
				}
				got++
			case *pgproto3.CommandComplete:
				tag = string(m.CommandTag)
			case *pgproto3.ErrorResponse:
				t.Fatalf("error after %d rows: %s", got, m.Message)
			case *pgproto3.ReadyForQuery:
				return tag
			}
		}
		return ""
	}

	stop := heapWatch()
	read(1000)
	e.waitClientWrite(t, hc.PID)
	time.Sleep(500 * time.Millisecond) // qgate would be buffering now
	paused := stop()
	if paused > maxHeapGrowth {
		t.Errorf("heap grew by %d MiB while the client paused", paused>>20)
	}

	stop = heapWatch()
	tag := read(rows + 1)
	streaming := stop()
	if got != rows || tag != fmt.Sprintf("SELECT %d", rows) {
		t.Fatalf("read %d rows, tag %q; want %d", got, tag, rows)
	}
	if streaming > maxHeapGrowth {
		t.Errorf("heap grew by %d MiB while the result streamed", streaming>>20)
	}
	t.Logf("heap growth: %d KiB paused, %d KiB streaming", paused>>10, streaming>>10)
}

// slowWriter blocks its first write until release is closed, then counts
// lines.
type slowWriter struct {
	release chan struct{}
	first   sync.Once
	started chan struct{}
	lines   int
	bytes   int64
}

func (w *slowWriter) Write(b []byte) (int, error) {
	w.first.Do(func() {
		close(w.started)
		<-w.release
	})
	w.lines += bytes.Count(b, []byte{'\n'})
	w.bytes += int64(len(b))
	return len(b), nil
}

// rowSource produces n COPY text lines of about 1 KB without holding
// them.
type rowSource struct {
	n, i int
	buf  []byte
}

func (r *rowSource) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if r.i == r.n {
			return 0, io.EOF
		}
		r.i++
		r.buf = fmt.Appendf(r.buf[:0], "%d\t%s\n", 1000000+r.i, strings.Repeat("y", 1000))
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// COPY TO STDOUT and COPY FROM STDIN of ~100 MB stream through qgate
// without it holding the data: bounded heap, every row arrives.
func TestProxy_BackpressureCopy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pc, err := pgconn.Connect(ctx, e.connString(e.tokenID, e.token))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	const rows = 100000

	t.Run("ToStdout", func(t *testing.T) {
		w := &slowWriter{release: make(chan struct{}), started: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			tag, err := pc.CopyTo(ctx, w, fmt.Sprintf("COPY (SELECT g, repeat('x', 1000) FROM generate_series(1, %d) g) TO STDOUT", rows))
			if err == nil && tag.RowsAffected() != rows {
				err = fmt.Errorf("tag %q", tag)
			}
			done <- err
		}()
		e.approve(e.pendingReview().ID) // COPY is never read-only
		select {
		case <-w.started:
		case err := <-done:
			t.Fatalf("COPY ended before any data: %v", err)
		}
		stop := heapWatch()
		e.waitClientWrite(t, pc.PID())
		time.Sleep(500 * time.Millisecond)
		paused := stop()
		stop = heapWatch()
		close(w.release)
		err := <-done
		streaming := stop()
		if err != nil {
			t.Fatal(err)
		}
		if w.lines != rows || w.bytes < rows*1000 {
			t.Errorf("received %d lines, %d bytes; want %d lines", w.lines, w.bytes, rows)
		}
		if paused > maxHeapGrowth || streaming > maxHeapGrowth {
			t.Errorf("heap grew by %d MiB paused, %d MiB streaming", paused>>20, streaming>>20)
		}
		t.Logf("heap growth: %d KiB paused, %d KiB streaming", paused>>10, streaming>>10)
	})

	t.Run("FromStdin", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			tag, err := pc.CopyFrom(ctx, &rowSource{n: rows}, "COPY notes (id, body) FROM STDIN")
			if err == nil && tag.RowsAffected() != rows {
				err = fmt.Errorf("tag %q", tag)
			}
			done <- err
		}()
		rv := e.pendingReview()
		if n := e.count("SELECT count(*) FROM notes"); n != 0 {
			t.Fatalf("%d rows arrived before the COPY was approved", n)
		}
		stop := heapWatch()
		e.approve(rv.ID)
		err := <-done
		grew := stop()
		if err != nil {
			t.Fatal(err)
		}
		if n := e.count("SELECT count(*) FROM notes WHERE length(body) = 1000"); n != rows {
			t.Errorf("upstream has %d rows, want %d", n, rows)
		}
		if grew > maxHeapGrowth {
			t.Errorf("heap grew by %d MiB during COPY FROM", grew>>20)
		}
		t.Logf("heap growth: %d KiB", grew>>10)
	})
}

// A client that pipelines without Sync (as drivers' batch modes do, and
// reads the answers as they come) does not make qgate buffer the whole
// pipeline nor keep every bound parameter until Sync.
func TestProxy_BackpressurePipeline(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pc, err := pgconn.Connect(ctx, e.connString(e.tokenID, e.token))
	if err != nil {
		t.Fatal(err)
	}
	hc, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	c := hc.Conn
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	const n, size = 400, 256 << 10 // 100 MB of parameters
	param := bytes.Repeat([]byte{'p'}, size)
	stop := heapWatch()
	wrote := make(chan error, 1)
	go func() {
		b, _ := (&pgproto3.Parse{Name: "len", Query: "SELECT length($1::text)"}).Encode(nil)
		if _, err := c.Write(b); err != nil {
			wrote <- err
			return
		}
		for range n {
			b = b[:0]
			b, _ = (&pgproto3.Bind{PreparedStatement: "len", Parameters: [][]byte{param}}).Encode(b)
			b, _ = (&pgproto3.Execute{}).Encode(b)
			if _, err := c.Write(b); err != nil {
				wrote <- err
				return
			}
		}
		b, _ = (&pgproto3.Sync{}).Encode(b[:0])
		_, err := c.Write(b)
		wrote <- err
	}()
	fe := pgproto3.NewFrontend(c, nil)
	rows := 0
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("after %d rows: %v", rows, err)
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			if string(m.Values[0]) != fmt.Sprint(size) {
				t.Fatalf("row %d = %q", rows, m.Values[0])
			}
			rows++
		case *pgproto3.ErrorResponse:
			t.Fatalf("error after %d rows: %s %s", rows, m.Code, m.Message)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	grew := stop()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Errorf("%d rows, want %d", rows, n)
	}
	if grew > maxHeapGrowth {
		t.Errorf("heap grew by %d MiB during a %d MiB pipeline", grew>>20, n*size>>20)
	}
	t.Logf("heap growth: %d KiB", grew>>10)
}
